#!/usr/bin/env python3
"""Helpers for benchmarks/run.sh: idle connections, a slow reader, a byte source, RSS and the report."""
import json
import os
import socket
import statistics
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle(port, count, pid):
    """Opens `count` idle connections, reports the server's RSS before and while they are held."""
    before = rss_kib(pid)
    sockets = []
    failed = 0
    for _ in range(count):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            sockets.append(s)
        except OSError:
            failed += 1
            s.close()
    time.sleep(2)  # let the server finish accepting (and the proxy its upstream connects)
    # A connection the server refused or closed reads as EOF: count those that are still open.
    open_count = 0
    for s in sockets:
        s.setblocking(False)
        try:
            open_count += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            open_count += 1
        except OSError:
            pass
    held = rss_kib(pid)
    for s in sockets:
        s.close()
    print(json.dumps({"connections": count, "open": open_count, "failed": failed,
                      "rss_before_kib": before, "rss_held_kib": held}))


def source(port, total):
    """Serves `total` bytes to each client until one has taken them all (the script's port probe
    connects and hangs up first), then exits."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(8)
    block = os.urandom(1 << 20)
    while True:
        conn, _ = listener.accept()
        sent = 0
        try:
            while sent < total:
                chunk = block[: min(len(block), total - sent)]
                conn.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        conn.close()
        if sent == total:
            return


def slow_reader(port, total, pid, rate_mb):
    """Reads `total` bytes at about `rate_mb` MB/s, sampling `pid`'s RSS as it goes."""
    s = socket.create_connection(("127.0.0.1", port))
    start = time.monotonic()
    got = 0
    samples = [rss_kib(pid)]
    next_sample = start
    while got < total:
        data = s.recv(256 * 1024)
        if not data:
            break
        got += len(data)
        ahead = got / (rate_mb * 1e6) - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
        if time.monotonic() >= next_sample:
            samples.append(rss_kib(pid))
            next_sample += 0.25
    seconds = time.monotonic() - start
    samples.append(rss_kib(pid))
    print(json.dumps({"bytes": got, "seconds": seconds, "rss_first_kib": samples[0], "rss_max_kib": max(samples),
                      "rss_last_kib": samples[-1],
                      "rss_quartiles_kib": statistics.quantiles(samples, n=4) if len(samples) > 1 else samples}))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "free-port":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
    elif command == "idle":
        idle(int(args[0]), int(args[1]), int(args[2]))
    elif command == "source":
        source(int(args[0]), int(args[1]))
    elif command == "slow-reader":
        slow_reader(int(args[0]), int(args[1]), int(args[2]), float(args[3]))
    else:
        sys.exit(f"unknown command {command}")
