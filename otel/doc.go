// Package sluiceotel exports sluice's figures through OpenTelemetry.
package sluiceotel
