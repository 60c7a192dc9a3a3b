#!/usr/bin/env python3
"""The tutorial's asyncio scraper, the peer of sluice's fetch in the Scraper
benchmark (bench/scraper_test.go).

What it does, as the tutorial describes it:

- one aiohttp.ClientSession for the whole run, with a
  TCPConnector(limit=CONCURRENCY) (connections shared by all hosts, kept
  alive and reused) and a ClientTimeout (30 s per request, as sluice's
  per-attempt default);
- an asyncio.Semaphore(CONCURRENCY) around each URL, and one task per URL,
  all gathered;
- up to 2 retries (3 attempts) on a 5xx answer, a connection error or a
  timeout, sleeping 0.4 * 2**n seconds (0.4 s, then 0.8 s) before retry n;
  the sleep happens inside the semaphore, as in the tutorial (the task keeps
  its slot while it waits); Retry-After is not read; a 4xx is not retried;
- every body is read in full.

It reads the URLs from stdin, one a line, and prints the outcomes counted by
category as one JSON object, the same categories as bench/cmd/scrape:
ok, http-<status> (the final status after any retries), timeout, conn-error
(reset, refused, server disconnected), other.

Needs python3 with aiohttp (Debian/Ubuntu: apt-get install -y python3-aiohttp).
"""
import argparse
import asyncio
import json
import sys

import aiohttp

RETRIES = 2
BACKOFF = 0.4


async def fetch(session, sem, url):
    async with sem:
        for attempt in range(RETRIES + 1):
            try:
                async with session.get(url) as resp:
                    await resp.read()
                    if resp.status < 400:
                        return "ok"
                    if resp.status < 500 or attempt == RETRIES:
                        return "http-%d" % resp.status
            except asyncio.TimeoutError:
                if attempt == RETRIES:
                    return "timeout"
            except aiohttp.ClientConnectionError:
                if attempt == RETRIES:
                    return "conn-error"
            except aiohttp.ClientError as e:
                if attempt == RETRIES:
                    print("scraper.py: %s: %r" % (url, e), file=sys.stderr)
                    return "other"
            await asyncio.sleep(BACKOFF * 2 ** attempt)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-c", type=int, default=64, help="concurrency")
    args = ap.parse_args()
    urls = [line.strip() for line in sys.stdin if line.strip()]
    sem = asyncio.Semaphore(args.c)
    connector = aiohttp.TCPConnector(limit=args.c)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        outcomes = await asyncio.gather(*(fetch(session, sem, u) for u in urls))
    counts = {}
    for o in outcomes:
        counts[o] = counts.get(o, 0) + 1
    json.dump(counts, sys.stdout)
    print()


if __name__ == "__main__":
    asyncio.run(main())
