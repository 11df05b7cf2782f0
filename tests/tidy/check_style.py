#!/usr/bin/env python3
"""Mechanical checks for the rules in STYLE.md that a grep can enforce.

Usage: check_style.py --root <repo>

Prints one `path:line: rule: text` per violation (paths relative to the root) and exits 1 if
there are any, 0 otherwise. Standard library only, so it runs wherever CTest runs.

Rules (each table entry below carries the reason it exists):
  nondeterminism  clocks, randomness, threads, sockets and raw file descriptors only in
                  common/env_asio/ and main.cpp files (STYLE.md "Determinism"; sim/ depends on it)
  wall-sleep      tests never sleep on wall time (STYLE.md "Tests"), except an allow-list
  layering        common <- protocol <- {netshelf, hostdriver} <- sim <- tests
  test-name       no ';' in TEST_CASE names (ctest would split them and run nothing)
  coroutine-lambda  no capturing lambda or brace-initialized temporary created inside a co_await
                  expression (GCC 12 destroys such a temporary twice: name it first)
  file-size       no source file over 800 lines
  readme          every top-level folder has a README.md
  top-level       the top level holds only the fixed set of entries

Before matching code patterns, // and /* */ comments and the contents of string and character
literals are blanked (line numbers are kept), so a comment that says "no ::now() here" or a log
message mentioning sleep() does not trip a rule. #include lines are matched separately, on the
comment-free text with strings intact.
"""

import argparse
import os
import re
import sys

# ----------------------------------------------------------------------------------------------
# Where things live.

# The production tree: code that runs inside the simulator and therefore must be deterministic.
PRODUCTION_AREAS = ("common", "protocol", "netshelf", "hostdriver", "sim")
TEST_AREA = "tests"
# Every top-level folder must say what lives there and what it may depend on (STYLE.md "Layout").
README_AREAS = PRODUCTION_AREAS + (TEST_AREA, "scripts")

# C++ files the code rules look at.
CXX_EXTENSIONS = (".h", ".hpp", ".cc", ".cpp", ".inl")
# Files the size rule looks at: anything a person reads and edits as source.
SIZE_EXTENSIONS = CXX_EXTENSIONS + (".capnp", ".py", ".sh")
# STYLE.md "Layout": "No file over ~800 lines" (RocksDB's 300 KB god files are the warning).
MAX_FILE_LINES = 800

# The only places allowed to touch the real world (STYLE.md "Layout" and "Determinism"): the
# Asio-backed Env, and the main.cpp that builds one and hands it to the rest of the program.
NONDETERMINISM_EXEMPT_DIRS = ("common/env_asio/",)
NONDETERMINISM_EXEMPT_BASENAMES = ("main.cpp",)

# Tests that wait on real processes or real TCP peers may sleep between polls; every other test
# drives the simulated clock or waits on a condition with a deadline (STYLE.md "Tests").
WALL_SLEEP_ALLOWED_DIRS = (
    "tests/bench/",  # benchmark programs drive real processes and measure wall time
    "tests/e2e/",  # end-to-end tests start real netshelf/hostdriver processes and poll them
)

# Fixed top level (STYLE.md "Layout"). Dot entries (.git, .gitignore, .clang-format, .ci, ...)
# are always allowed; build/ is the ignored build tree.
TOP_LEVEL_ALLOWED = frozenset(
    {"CMakeLists.txt", "README.md", "build"} | set(PRODUCTION_AREAS) | {TEST_AREA, "scripts"}
)

# Which top-level areas each area's files may #include (STYLE.md "Layout": common <- protocol <-
# {netshelf, hostdriver} <- sim <- tests). hostdriver and netshelf meet only in protocol/, so
# either can be built, tested and deployed without the other.
LAYERING = {
    "common": {"common"},
    "protocol": {"common", "protocol"},
    "netshelf": {"common", "protocol", "netshelf"},
    "hostdriver": {"common", "protocol", "hostdriver"},
    "sim": {"common", "protocol", "netshelf", "hostdriver", "sim"},
    "tests": {"common", "protocol", "netshelf", "hostdriver", "sim", "tests"},
}
PROJECT_AREAS = frozenset(LAYERING)

# ----------------------------------------------------------------------------------------------
# Pattern helpers.


def free_call(name):
    """A call to the free (C or std::) function `name`, not a member of the same name.

    Matches `name(`, `::name(` and `std::name(`; not `obj.name(`, `p->name(`, `Type::name(` or
    `other_name(`, so the Env's own `clock.now()` or `Storage::open(` stay legal.
    """
    return r"(?<![\w.>:])(?:(?:std)?::)?\s*" + name + r"\s*\("


def global_call(name):
    """A call spelled `::name(` (the usual way to reach the POSIX function from a class that has
    a member of the same name), but not `Type::name(`."""
    return r"(?<![\w>:])::\s*" + name + r"\s*\("


# Sleeping on wall time. Shared by the production rule (no sleeping at all outside the Env) and
# the test rule (no waiting for events by sleeping). The project's own
# `sleep_for(Clock&, Duration)` (common/env.h) is not a wall-time sleep when the Env is simulated,
# so a bare sleep_for( with two arguments, the first naming a clock, is allowed; a bare
# sleep_for( on a duration alone is std::this_thread's, reached through a using-declaration.
# (Whether an Env sleep in a test waits on wall time depends on the Env; that is for review.)
WALL_SLEEP_PATTERNS = [
    (r"\bthis_thread\s*::\s*sleep_(?:for|until)\b", "std::this_thread sleeps on wall time"),
    (free_call(r"sleep_for") + r"(?![^,;]*(?i:clock)[^,;]*,)",
     "sleep_for on a duration is a wall sleep"),
    (free_call(r"sleep_until") + r"(?![^,;]*(?i:clock)[^,;]*,)", "sleep_until is a wall sleep"),
    (free_call(r"(?:u|nano)?sleep"), "POSIX sleep/usleep/nanosleep sleeps on wall time"),
    (free_call(r"clock_nanosleep"), "POSIX clock_nanosleep sleeps on wall time"),
]

# Everything else the production tree must reach only through Env.
NONDETERMINISM_PATTERNS = WALL_SLEEP_PATTERNS + [
    # Clocks: time comes from Env's Clock so the simulator can control it.
    (r"\b(?:system|steady|high_resolution|utc|tai|gps|file)_clock\s*::\s*now\b",
     "reads a real clock; use env.clock.now()"),
    (free_call(r"(?:clock_gettime|gettimeofday|timespec_get)"), "reads a real clock; use Env"),
    # time()/clock() only when clearly libc's: qualified, or time(nullptr), so that an accessor
    # such as `Clock& clock()` in sim/ is not mistaken for one.
    (r"(?<![\w>:])(?:std)?::\s*(?:time|clock)\s*\(", "reads a real clock; use Env"),
    (r"(?<![\w.>:])time\s*\(\s*(?:nullptr|NULL|0|&)", "reads a real clock; use Env"),
    # Randomness: only the seeded Prng (common/prng.h), forked per component, so a run replays.
    (free_call(r"s?rand(?:om)?"), "unseeded libc randomness; use env.rng"),
    (free_call(r"(?:arc4random\w*|getrandom|[dlmnej]rand48)"), "OS randomness; use env.rng"),
    (r"\brandom_device\b", "std::random_device is nondeterministic; use env.rng"),
    # Threads: one event loop per Env; CPU work goes to env.compute, which posts results back.
    (r"\bstd\s*::\s*j?thread\b", "creates a thread; use env.compute"),
    (r"\bstd\s*::\s*this_thread\b", "thread identity/yield is outside the Env"),
    (r"\bstd\s*::\s*async\b", "std::async creates threads; use env.compute"),
    (r"\bpthread_\w+", "raw pthreads; use env.compute"),
    (r"\bthread_pool\b", "asio::thread_pool belongs in common/env_asio/"),
    (r"\bboost\s*::\s*thread\b", "boost::thread; use env.compute"),
    # Network: through env.network, so sim/ can drop, delay and reset connections.
    (free_call(r"socket(?:pair)?"), "raw socket; use env.network"),
    (global_call(r"(?:accept4?|connect|bind|listen|getaddrinfo|send|sendto|sendmsg|recv|recvfrom|"
                 r"recvmsg|poll|epoll_\w+|select)"),
     "raw socket call; use env.network"),
    (r"\basio\s*::\s*ip\s*::", "Asio sockets belong in common/env_asio/"),
    (r"\basio\s*::\s*local\s*::", "Asio local sockets belong in common/env_asio/"),
    # Timers: through env.clock.call_at, so the simulated clock can fire them.
    (r"\b(?:steady|system|high_resolution)_timer\b", "real Asio timer; use env.clock.call_at"),
    # deadline_timer is also a fine variable name, so only Asio's qualified one counts.
    (r"\basio\s*::\s*(?:deadline|basic_waitable)_timer\b", "real Asio timer; use env.clock"),
    # Files and descriptors: through env.storage, so sim/ can inject torn/lost/misdirected writes.
    (free_call(r"(?:fopen|freopen|fdopen|openat|creat|fdatasync|fsync|syncfs)"),
     "raw file I/O; use env.storage"),
    (global_call(r"(?:open|close|read|write|pread|pwrite|preadv2?|pwritev2?|lseek|ftruncate|"
                 r"fallocate|fstat|stat|unlink|rename|mmap|ioctl|dup2?|pipe2?)"),
     "raw file descriptor call; use env.storage"),
    (r"\basio\s*::\s*(?:posix|windows)\s*::", "Asio descriptors belong in common/env_asio/"),
    (r"\basio\s*::\s*(?:random_access|stream|basic_\w+)_file\b",
     "Asio files belong in common/env_asio/"),
]

# Headers that only make sense for code that touches the world directly. Matched on the header
# name inside <> or "" (a regex anchored at both ends).
NONDETERMINISM_INCLUDES = [
    (r"thread|future|random", "threads/randomness enter through Env"),
    (r"mutex|shared_mutex|condition_variable|semaphore|latch|barrier",
     "core code takes no locks (STYLE.md \"Concurrency\")"),
    (r"pthread\.h|unistd\.h|fcntl\.h|sys/(?!types\.h\Z).*|linux/.*|netinet/.*|arpa/.*|netdb\.h|"
     r"poll\.h",
     "POSIX I/O, sockets and threads belong in common/env_asio/"),
    (r"boost/asio/(?:ip|local|posix|generic)/.*|boost/asio/(?:ip|local|posix|generic)\.hpp",
     "Asio sockets/descriptors belong in common/env_asio/"),
    (r"boost/asio/(?:\w+_timer|thread_pool|system_executor|signal_set|\w*_file)\.hpp|"
     r"boost/asio\.hpp|boost/thread.*",
     "Asio timers, threads, files and the all-in-one header belong in common/env_asio/"),
    (r"common/env_asio/.*", "only main.cpp builds the Asio Env; other code takes an Env&"),
]

# ----------------------------------------------------------------------------------------------
# Stripping comments and literals.

_IDENT = re.compile(r"[A-Za-z_]\w*")
_PP_NUMBER = re.compile(r"\.?\d(?:[eEpP][+-]|'(?=[\w])|[\w.])*")
_LITERAL_PREFIXES = ("L", "u", "U", "u8")
_RAW_PREFIXES = tuple(p + "R" for p in ("",) + _LITERAL_PREFIXES)


def _blank(text):
    """Spaces in place of text, newlines kept so line numbers do not move."""
    return re.sub(r"[^\n]", " ", text)


def strip_cxx(text, keep_strings=False):
    """Returns text with comments blanked and (unless keep_strings) literal contents blanked.

    Quotes are kept so `f("x")` becomes `f(" ")`. Handles escapes, raw strings, encoding
    prefixes, digit separators (1'000) and line splices well enough for matching.
    """
    out = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            j = i
            while j < n and text[j] != "\n":
                # A backslash-newline continues a // comment onto the next line.
                j += 2 if text.startswith("\\\n", j) else 1
            out.append(_blank(text[i:j]))
            i = j
        elif c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(_blank(text[i:j]))
            i = j
        elif c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            body = text[i + 1:j - 1]
            out.append(c + (body if keep_strings else _blank(body)) + text[j - 1:j])
            i = j
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = _PP_NUMBER.match(text, i)
            out.append(m.group(0))
            i = m.end()
        elif c == "_" or c.isalpha():
            m = _IDENT.match(text, i)
            word = m.group(0)
            j = m.end()
            if word in _RAW_PREFIXES and text.startswith('"', j):
                # R"delim( ... )delim"
                open_paren = text.find("(", j)
                delim = text[j + 1:open_paren] if open_paren >= 0 else ""
                end = text.find(")" + delim + '"', open_paren + 1) if open_paren >= 0 else -1
                end = n if end < 0 else end + len(delim) + 2
                literal = text[j:end]
                out.append(word + (literal if keep_strings else '"' + _blank(literal[1:-1]) + '"'))
                i = end
            elif word in _LITERAL_PREFIXES and j < n and text[j] in "\"'":
                out.append(word)  # the literal itself is handled on the next iteration
                i = j
            else:
                out.append(word)
                i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


_INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')

# ----------------------------------------------------------------------------------------------
# The checks.


class Violation:
    def __init__(self, path, line, rule, text):
        self.path, self.line, self.rule, self.text = path, line, rule, text

    def __str__(self):
        return f"{self.path}:{self.line}: {self.rule}: {self.text}"


def _compile(table):
    return [(re.compile(pattern), why) for pattern, why in table]


_NONDETERMINISM = _compile(NONDETERMINISM_PATTERNS)
_WALL_SLEEP = _compile(WALL_SLEEP_PATTERNS)
_BANNED_INCLUDES = [(re.compile(r"(?:" + p + r")\Z"), why) for p, why in NONDETERMINISM_INCLUDES]


def _area(rel):
    return rel.split("/", 1)[0]


def _nondeterminism_exempt(rel):
    return (rel.startswith(NONDETERMINISM_EXEMPT_DIRS)
            or os.path.basename(rel) in NONDETERMINISM_EXEMPT_BASENAMES)


def check_cxx_file(rel, text):
    """Code rules for one C++ file; rel is its '/'-separated path relative to the root."""
    area = _area(rel)
    violations = []
    if area in PRODUCTION_AREAS:
        code_rule, code_table = "nondeterminism", (
            [] if _nondeterminism_exempt(rel) else _NONDETERMINISM)
        include_table = [] if _nondeterminism_exempt(rel) else _BANNED_INCLUDES
    elif area == TEST_AREA:
        code_rule, code_table = "wall-sleep", (
            [] if rel.startswith(WALL_SLEEP_ALLOWED_DIRS) else _WALL_SLEEP)
        include_table = []
    else:
        return violations

    with_strings = strip_cxx(text, keep_strings=True).split("\n")
    code = strip_cxx(text).split("\n")
    for number, (line, code_line) in enumerate(zip(with_strings, code), start=1):
        include = _INCLUDE.match(line)
        if include:
            header = include.group(2).strip()
            for pattern, why in include_table:
                if pattern.match(header):
                    violations.append(
                        Violation(rel, number, "nondeterminism", f"#include {header}: {why}"))
                    break
            if header.startswith("."):  # "../netshelf/x.h": resolve against the file's folder
                header = os.path.normpath(os.path.join(os.path.dirname(rel), header))
                header = header.replace(os.sep, "/")
            target = header.split("/", 1)[0] if "/" in header else None
            if target in PROJECT_AREAS and target not in LAYERING[area]:
                violations.append(Violation(
                    rel, number, "layering",
                    f"{area}/ may not include {header} (allowed: "
                    f"{', '.join(sorted(LAYERING[area]))})"))
            continue
        spans = []  # one report per offending spot, even when several patterns match it
        for pattern, why in code_table:
            for m in pattern.finditer(code_line):
                if any(m.start() < end and start < m.end() for start, end in spans):
                    continue
                spans.append(m.span())
                violations.append(Violation(
                    rel, number, code_rule, f"{m.group(0).strip()}: {why}"))
    violations.extend(check_coroutine_lambdas(rel, "\n".join(code)))
    if area == TEST_AREA:
        violations.extend(check_test_names(rel, with_strings))
    return violations


# doctest_discover_tests splits the discovered names at ';' (a CMake list), so a test named
# "a; b" becomes two ctest entries that each match no test case and "pass" without running it.
_TEST_CASE_NAME = re.compile(r'\bTEST_CASE\s*\(\s*"([^"]*)"')


def check_test_names(rel, lines):
    violations = []
    for number, line in enumerate(lines, start=1):
        m = _TEST_CASE_NAME.search(line)
        if m and ";" in m.group(1):
            violations.append(Violation(
                rel, number, "test-name",
                "';' in a TEST_CASE name: ctest would split it and run nothing; use ','"))
    return violations


# GCC 12 destroys temporaries created by braces inside a co_await expression twice: capturing
# lambdas and brace-initialized objects (`Address{"h", 1}`, `Req{v, name}`), even when they are
# arguments of an ordinary function inside the awaited call (double free; reproduced under ASan
# with Boost.Asio awaitables). Name them first:
#   auto work = [x] { ... };  co_await run_compute(pool, std::move(work));
#   const Address address{"h", 1};  co_await connect(address);
# Lambdas capturing only references (&, &name, this) hold nothing to destroy, so they pass.
_CO_AWAIT = re.compile(r"\bco_await\b")
_LAMBDA_INTRO = re.compile(r"\[([^\[\]]*)\]\s*(?:\(|\{|mutable\b|->)")
_REFERENCE_CAPTURE = re.compile(r"\s*(?:&\s*\w*|this)\s*")
# `Name{` or `ns::Name<T>{` (a braced temporary); not control-flow keywords.
_BRACED_TEMPORARY = re.compile(r"(?<![\w.>])((?:\w+::)*[A-Za-z_]\w*(?:<[^<>;]*>)?)\s*\{")
_NOT_A_TYPE = {"if", "for", "while", "switch", "return", "else", "do", "try", "co_return",
               "co_await", "mutable"}


def check_coroutine_lambdas(rel, code):
    """code: comment- and string-free text of one file."""
    violations = []
    for m in _CO_AWAIT.finditer(code):
        end = code.find(";", m.end())
        statement = code[m.end():end if end >= 0 else len(code)]
        found = None
        for lam in _LAMBDA_INTRO.finditer(statement):
            captures = [c for c in lam.group(1).split(",") if c.strip()]
            if not captures or all(_REFERENCE_CAPTURE.fullmatch(c) for c in captures):
                continue
            found = (lam.start(), f"[{lam.group(1).strip()}] lambda")
            break
        if found is None:
            for brace in _BRACED_TEMPORARY.finditer(statement):
                name = brace.group(1)
                if name.split("::")[-1].split("<")[0] in _NOT_A_TYPE:
                    continue
                # A lambda's own `-> Type {` body is not a temporary.
                if re.search(r"->\s*$", statement[:brace.start()]):
                    continue
                found = (brace.start(), f"{name}{{...}} temporary")
                break
        if found is None:
            # GCC 12 also miscompiles co_await inside a conditional expression (double free).
            start = max(code.rfind(c, 0, m.start()) for c in ";{}") + 1
            if "?" in code[start:m.start()]:
                found = (-len("co_await"), "co_await inside ?: (use if/else)")
        if found is not None:
            line = code.count("\n", 0, m.end() + found[0]) + 1
            if any(v.line == line for v in violations):
                continue  # one report per line
            what = found[1] if "?:" in found[1] else found[1] + " inside co_await"
            violations.append(Violation(
                rel, line, "coroutine-lambda",
                f"{what}: GCC 12 destroys a temporary twice; name it first"))
    return violations


def check_file_size(rel, text):
    lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
    if lines > MAX_FILE_LINES:
        return [Violation(rel, MAX_FILE_LINES + 1, "file-size",
                          f"{lines} lines > {MAX_FILE_LINES}; split it by responsibility")]
    return []


def check_top_level(root):
    violations = []
    for name in sorted(os.listdir(root)):
        if name.startswith(".") or name in TOP_LEVEL_ALLOWED:
            continue
        violations.append(Violation(
            name, 0, "top-level", "not part of the fixed top level (STYLE.md \"Layout\")"))
    for area in README_AREAS:
        if os.path.isdir(os.path.join(root, area)) and not os.path.isfile(
                os.path.join(root, area, "README.md")):
            violations.append(Violation(
                f"{area}/README.md", 0, "readme",
                "missing: say what lives here and what it may depend on"))
    return violations


def _walk(root, area):
    """Yields '/'-separated paths relative to root of files under area, skipping dot dirs."""
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, area)):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            full = os.path.join(dirpath, filename)
            yield os.path.relpath(full, root).replace(os.sep, "/"), full


def check_tree(root):
    violations = check_top_level(root)
    for area in README_AREAS:
        for rel, full in _walk(root, area):
            if not rel.endswith(SIZE_EXTENSIONS):
                continue
            with open(full, encoding="utf-8", errors="replace") as f:
                text = f.read()
            violations += check_file_size(rel, text)
            if rel.endswith(CXX_EXTENSIONS):
                violations += check_cxx_file(rel, text)
    return violations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", required=True, help="repository root")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.root):
        print(f"check_style: no such directory: {args.root}", file=sys.stderr)
        return 2
    violations = check_tree(args.root)
    for v in violations:
        print(v)
    if violations:
        print(f"check_style: {len(violations)} violation(s); rules and reasons are in "
              f"tests/tidy/check_style.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
