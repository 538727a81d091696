#!/usr/bin/env python3
"""Ledger postings at a fixed rate through the JSON API (issue 8, item 7), for scripts/load.sh.

    post-load.py BASE OFFICER_TOKEN CLERK_TOKEN CLUSTER_NAME --rate 200 --seconds 60
                 [--connections 32] [--max-p99 MS]

The tokens are API tokens of an authority officer (who posts the opening receipt) and of the
cluster's chair or clerk (who posts the allocations); CLUSTER_NAME names the cluster (its id and
a member school are looked up).

Open loop, as oha's latency correction: request i is due at start + i / rate and its latency is
measured from that moment to the end of its reply, so a slow server cannot hide its queueing by
slowing the client. Every request carries its own Idempotency-Key. The timed postings are the
clerk's allocations of 1p from the cluster's central admin fund to a member school, after one
opening receipt by the officer that keeps the fund in credit however many arrive. Afterwards it reads the ledger: the journal must have grown by exactly the number of
201s, and it must balance and reconcile. Prints one JSON line of results; exit 1 when any
request failed or the ledger does not add up. Only the standard library (asyncio streams,
HTTP/1.1 keep-alive).
"""

import argparse
import asyncio
import json
import sys
import time
import urllib.parse
import urllib.request

STREAM = "Cluster admin funding"


def line(account, holder, side, pence):
    return {"account": account, "stream": STREAM, "phase": "all", "holder": holder, "side": side,
            "amount_pence": pence}


def receipt(pence, memo):
    return {"kind": "receipt", "date": "2026-09-01", "memo": memo,
            "lines": [line("funding", "central", "credit", pence), line("available", "central", "debit", pence)]}


def allocation(urn, pence, memo):
    return {"kind": "allocation", "date": "2026-09-02", "memo": memo,
            "lines": [line("available", "central", "credit", pence), line("available", urn, "debit", pence)]}


def api(base, token, method, path, body=None, key=None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read())


class Conn:
    def __init__(self, host, port):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, raw):
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        self.writer.write(raw)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("connection closed")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            h = await self.reader.readline()
            if h in (b"\r\n", b""):
                break
            name, _, value = h.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        body = await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return status, body


async def run(args):
    u = urllib.parse.urlparse(args.base)
    clusters = api(args.base, args.clerk_token, "GET", "/api/v1/clusters")[1]["clusters"]
    found = [c["id"] for c in clusters if c["name"] == args.cluster_name]
    if not found:
        raise SystemExit(f"no cluster named {args.cluster_name!r}")
    args.cluster = found[0]
    members = api(args.base, args.clerk_token, "GET", f"/api/v1/clusters/{args.cluster}")[1]["members"]
    args.urn = next(m["urn"] for m in members if m["role"] != "host")
    path = f"/api/v1/clusters/{args.cluster}/ledger/entries"
    run_id = f"load-{int(time.time() * 1000)}"
    # The opening receipt: enough for every allocation of the run.
    api(args.base, args.officer_token, "POST", path, receipt(10_000_000, "Load test opening receipt (synthetic)"),
        key=f"{run_id}-open")
    before = api(args.base, args.clerk_token, "GET", f"/api/v1/clusters/{args.cluster}/ledger")[1]["entries"]

    total = int(args.rate * args.seconds)
    bodies = []
    for i in range(total):
        entry = allocation(args.urn, 1, f"Load test allocation {i} (synthetic)")
        body = json.dumps(entry).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: {u.netloc}\r\nAuthorization: Bearer {args.clerk_token}\r\n"
                f"Content-Type: application/json\r\nIdempotency-Key: {run_id}-{i}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        bodies.append(head + body)

    idle = asyncio.Queue()
    for _ in range(args.connections):
        idle.put_nowait(Conn(u.hostname, u.port))
    latencies, statuses, errors = [], {}, []
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2

    async def one(i):
        due = start + i / args.rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        conn = await idle.get()
        try:
            status, _ = await conn.request(bodies[i])
            statuses[str(status)] = statuses.get(str(status), 0) + 1
        except Exception as e:  # noqa: BLE001 - every failure is counted and reported
            errors.append(repr(e))
            conn.writer = None
        finally:
            idle.put_nowait(conn)
        latencies.append(loop.time() - due)

    await asyncio.gather(*(one(i) for i in range(total)))
    elapsed = loop.time() - start
    after = api(args.base, args.clerk_token, "GET", f"/api/v1/clusters/{args.cluster}/ledger")[1]
    latencies.sort()
    pct = lambda p: round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2)
    created = statuses.get("201", 0)
    row = {
        "scenario": "postings", "path": path, "rate": args.rate, "seconds": args.seconds, "requests": total,
        "rps": round(total / elapsed, 1), "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": pct(1.0),
        "errors": len(errors), "status": statuses, "journal_growth": after["entries"] - before,
        "balanced": after["balanced"], "reconciles": after["reconciles"],
    }
    problems = []
    if errors:
        problems.append(f"{len(errors)} errors, e.g. {errors[0]}")
    if set(statuses) - {"201"}:
        problems.append(f"statuses other than 201: {statuses}")
    if row["journal_growth"] != created:
        problems.append(f"the journal grew by {row['journal_growth']}, not by the {created} postings acknowledged")
    if not (after["balanced"] and after["reconciles"]):
        problems.append("the ledger does not balance and reconcile")
    if args.max_p99 is not None and row["p99_ms"] > args.max_p99:
        problems.append(f"p99 {row['p99_ms']} ms > {args.max_p99} ms")
    return row, problems


def main():
    p = argparse.ArgumentParser()
    p.add_argument("base")
    p.add_argument("officer_token")
    p.add_argument("clerk_token")
    p.add_argument("cluster_name")
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--max-p99", type=float, default=None)
    args = p.parse_args()
    row, problems = asyncio.run(run(args))
    print(json.dumps(row))
    print(f"postings     {row['rps']:>7}/s p50 {row['p50_ms']} ms  p99 {row['p99_ms']} ms  max {row['max_ms']} ms  "
          f"errors {row['errors']}  {row['status']}  journal +{row['journal_growth']}"
          + ("  FAIL: " + "; ".join(problems) if problems else ""), file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
