#!/usr/bin/env python3
"""HTTP clients for benchmarks/web.sh (loopback only):
  latency PORT PATH COUNT   request PATH COUNT times on one keep-alive connection; prints
                            {"p50_ms", "p99_ms", "max_ms", "bytes"} as JSON
  viewers PORT PATH COUNT   holds COUNT Server-Sent Events streams open until SIGTERM; prints
                            {"viewers", "hellos", "events"} as JSON when stopped"""
import http.client
import json
import selectors
import signal
import socket
import statistics
import sys
import time


def latency(port, path, count):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    timings, size = [], 0
    for _ in range(count):
        started = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        timings.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            sys.exit(f"{path}: HTTP {response.status}: {body[:200]!r}")
        size = len(body)
    timings.sort()
    print(json.dumps({"p50_ms": round(statistics.median(timings), 2),
                      "p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 2),
                      "max_ms": round(timings[-1], 2), "bytes": size}))


def viewers(port, path, count):
    selector = selectors.DefaultSelector()
    hellos, events = set(), 0
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    while not stopping:
        for key, _ in selector.select(timeout=0.2):
            try:
                chunk = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                selector.unregister(key.fileobj)
            if b"event: hello" in chunk:
                hellos.add(key.fileobj)
            events += chunk.count(b"event: session")  # an event split across reads is missed: a count, not a check
    print(json.dumps({"viewers": count, "hellos": len(hellos), "events": events}))

if __name__ == "__main__":
    command, port, path, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    {"latency": latency, "viewers": viewers}[command](port, path, count)
