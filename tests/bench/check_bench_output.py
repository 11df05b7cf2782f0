#!/usr/bin/env python3
"""Runs a benchmark command; fails unless it exits 0 and its last stdout line is a JSON object
whose values are all finite numbers (the contract every benchmark under tests/bench keeps).

usage: check_bench_output.py [--require-key KEY]... -- COMMAND [ARGS...]
       (the "--" may be omitted when COMMAND does not start with "-")
"""
import json
import math
import subprocess
import sys


def parse_args(argv):
    required = []
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        if argv[i] == "--":
            i += 1
            break
        if argv[i] == "--require-key" and i + 1 < len(argv):
            required.append(argv[i + 1])
            i += 2
            continue
        sys.exit(__doc__)
    if i >= len(argv):
        sys.exit(__doc__)
    return required, argv[i:]


def main():
    required, command = parse_args(sys.argv[1:])
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sys.stdout.write(proc.stdout)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"FAIL: {command[0]} exited with status {proc.returncode}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        sys.exit("FAIL: no output")
    try:
        figures = json.loads(lines[-1])
    except json.JSONDecodeError as e:
        sys.exit(f"FAIL: last line is not JSON: {e}")
    if not isinstance(figures, dict) or not figures:
        sys.exit("FAIL: last line is not a non-empty JSON object")
    for key, value in figures.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            sys.exit(f"FAIL: {key} is not a finite number: {value!r}")
    for key in required:
        if key not in figures:
            sys.exit(f"FAIL: missing key {key}")
    print(f"OK: {len(figures)} figures")


if __name__ == "__main__":
    main()
