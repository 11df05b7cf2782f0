#!/usr/bin/env python3
"""Self-test for check_style.py: each rule fires on a violation and stays quiet on the cases
STYLE.md allows (comments, strings, common/env_asio/, main.cpp, the test allow-list).

Each test builds a small fake repository in a temporary directory and runs the real checker on
it, so what is tested is what CTest runs on the real tree.
"""

import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_style  # noqa: E402

# A tree that passes every rule; tests add one file at a time to it.
CLEAN_TREE = {
    "CMakeLists.txt": "project(x)\n",
    "README.md": "x\n",
    ".gitignore": "/build/\n",
    ".clang-format": "BasedOnStyle: Google\n",
    ".ci/ci.sh": "true\n",
    "build/junk.o": "",
    **{f"{area}/README.md": "x\n" for area in check_style.README_AREAS},
    "common/env.h": "#pragma once\n#include <memory>\n",
}


class TreeTest(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = self._tmp.name
        for path, text in CLEAN_TREE.items():
            self.write(path, text)

    def tearDown(self):
        self._tmp.cleanup()

    def fresh(self):
        """Starts over from the clean tree (for one subTest of a loop)."""
        self.tearDown()
        self.setUp()

    def write(self, path, text):
        full = os.path.join(self.root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as f:
            f.write(text)

    def violations(self):
        return [str(v) for v in check_style.check_tree(self.root)]

    def assert_clean(self):
        self.assertEqual(self.violations(), [])

    def assert_fires(self, rule, path, line=None):
        """Exactly one violation, of `rule`, reported at path (and line, if given)."""
        found = self.violations()
        self.assertEqual(len(found), 1, found)
        prefix = f"{path}:{line}: {rule}: " if line is not None else f"{path}:"
        self.assertTrue(found[0].startswith(prefix), found)
        self.assertIn(f": {rule}: ", found[0])


class CleanTreeTest(TreeTest):
    def test_clean_tree_passes(self):
        self.assert_clean()

    def test_main_exit_codes_and_output_format(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(check_style.main(["--root", self.root]), 0)
        self.write("protocol/a.cpp", "void f() { std::thread t; }\n")
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(check_style.main(["--root", self.root]), 1)
        self.assertRegex(out.getvalue(), r"(?m)^protocol/a\.cpp:1: nondeterminism: std::thread")


class NondeterminismTest(TreeTest):
    # One line per forbidden construct; each must be caught in production code.
    FORBIDDEN = [
        "auto t = std::chrono::steady_clock::now();",
        "auto t = std::chrono::system_clock::now();",
        "auto t = std::chrono::high_resolution_clock::now();",
        "using namespace std::chrono; auto t = steady_clock::now();",
        "auto t = std::time(nullptr);",
        "auto t = time(NULL);",
        "clock_gettime(CLOCK_MONOTONIC, &ts);",
        "int r = rand();",
        "int r = std::rand();",
        "srand(42);",
        "std::random_device rd;",
        "std::thread t([] {});",
        "std::jthread t([] {});",
        "auto f = std::async([] {});",
        "pthread_create(&t, nullptr, fn, nullptr);",
        "std::this_thread::sleep_for(std::chrono::milliseconds(5));",
        "std::this_thread::yield();",
        "sleep(1);",
        "usleep(100);",
        "nanosleep(&ts, nullptr);",
        "int fd = socket(AF_INET, SOCK_STREAM, 0);",
        "::connect(fd, addr, len);",
        "int fd = ::open(path, O_RDONLY);",
        "FILE* f = fopen(path, \"r\");",
        "::pread(fd, buf, n, off);",
        "::pwrite(fd, buf, n, off);",
        "fsync(fd);",
        "::fdatasync(fd);",
        "asio::ip::tcp::socket s(io);",
        "boost::asio::ip::tcp::acceptor a(io);",
        "asio::steady_timer timer(io);",
        "asio::thread_pool pool(4);",
        "asio::deadline_timer timer(io);",
    ]
    FORBIDDEN_INCLUDES = [
        "<thread>", "<random>", "<mutex>", "<unistd.h>", "<fcntl.h>", "<sys/socket.h>",
        "<pthread.h>", "<boost/asio/ip/tcp.hpp>", "<boost/asio/steady_timer.hpp>",
        "<boost/asio/thread_pool.hpp>", "<boost/asio.hpp>", '"common/env_asio/asio_env.h"',
    ]

    def test_each_forbidden_call_fires_in_every_production_area(self):
        for area in check_style.PRODUCTION_AREAS:
            for code in self.FORBIDDEN:
                with self.subTest(area=area, code=code):
                    self.fresh()
                    self.write(f"{area}/x/impl.cpp",
                               f"#include <memory>\n\nvoid f() {{\n  {code}\n}}\n")
                    self.assert_fires("nondeterminism", f"{area}/x/impl.cpp", 4)

    def test_each_forbidden_include_fires(self):
        for header in self.FORBIDDEN_INCLUDES:
            with self.subTest(header=header):
                self.fresh()
                self.write("protocol/impl.h", f"#pragma once\n#include {header}\n")
                self.assert_fires("nondeterminism", "protocol/impl.h", 2)

    def test_env_asio_and_main_cpp_may_touch_the_world(self):
        body = "".join(f"#include {h}\n" for h in self.FORBIDDEN_INCLUDES)
        body += "void f() {\n" + "".join(f"  {c}\n" for c in self.FORBIDDEN) + "}\n"
        self.write("common/env_asio/asio_env.cpp", body)
        self.write("netshelf/main.cpp", body)
        self.write("sim/tools/main.cpp", body)
        self.assert_clean()

    def test_semicolon_in_a_test_name_fires(self):
        self.write("tests/unit/common/name_test.cpp",
                   'TEST_CASE("common/x: a; b") {}\nTEST_CASE("common/x: a, b") {}\n')
        self.assert_fires("test-name", "tests/unit/common/name_test.cpp", 1)

    def test_tests_may_use_threads_and_sockets(self):
        self.write("tests/unit/common/thread_test.cpp",
                   "#include <thread>\n#include <sys/socket.h>\n"
                   "void f() { std::thread t; int fd = socket(1, 2, 3); "
                   "auto n = std::chrono::steady_clock::now(); }\n")
        self.assert_clean()

    def test_comments_and_strings_do_not_fire(self):
        self.write("common/clock_user.cpp", "\n".join([
            "// No std::chrono::steady_clock::now() here: time comes from env.clock.now().",
            "/* Not rand(), not std::thread, not sleep(1),",
            "   and not ::open(path). */",
            "const char* kHelp = \"call sleep(1) or std::thread t; // not code\";",
            "const char* kRaw = R\"x(fopen(\"f\") std::random_device)x\";",
            "char c = '\"'; int n = 1'000'000;  // std::thread in a comment after a char",
            "auto t = env.clock.now();  // the Env's clock is the allowed one",
            "",
        ]))
        self.assert_clean()

    def test_block_comment_keeps_line_numbers(self):
        self.write("common/a.cpp", "/* line 1\n line 2\n*/\nvoid f() { rand(); }\n")
        self.assert_fires("nondeterminism", "common/a.cpp", 4)

    def test_members_and_env_helpers_with_libc_names_do_not_fire(self):
        self.write("sim/sim_env.cpp", "\n".join([
            "auto file = co_await env.storage.open(path, options);",
            "Task<Result<std::unique_ptr<File>>> SimStorage::open(const std::string& p) {}",
            "auto s = co_await env.network.connect(address, timeout);",
            "Clock& SimEnv::clock() { return clock_; }",
            "uint64_t x = env.rng.next(); auto y = prng->rand();",
            "co_await sleep_for(env.clock, std::chrono::milliseconds(5));",
            "Task<void> sleep_for(Clock& clock, Duration duration);",
            "pending->deadline_timer = env.clock.call_at(t, fn);",
            "void set_thread_pool_size(int n);",
            "",
        ]))
        self.assert_clean()


class WallSleepTest(TreeTest):
    SLEEPS = [
        "std::this_thread::sleep_for(std::chrono::milliseconds(50));",
        "std::this_thread::sleep_until(deadline);",
        "sleep_for(50ms);  // using namespace std::this_thread",
        "usleep(1000);",
        "sleep(1);",
        "nanosleep(&ts, nullptr);",
    ]

    def test_sleeps_fire_in_tests(self):
        for code in self.SLEEPS:
            with self.subTest(code=code):
                self.fresh()
                self.write("tests/unit/hostdriver/ec/ec_test.cpp", f"void f() {{\n  {code}\n}}\n")
                self.assert_fires("wall-sleep", "tests/unit/hostdriver/ec/ec_test.cpp", 2)

    def test_sleeps_fire_in_test_main_and_support(self):
        self.write("tests/support/main.cpp", "void f() { usleep(10); }\n")
        self.assert_fires("wall-sleep", "tests/support/main.cpp", 1)

    def test_allow_listed_dirs_may_sleep(self):
        self.assertIn("tests/bench/", check_style.WALL_SLEEP_ALLOWED_DIRS)
        self.assertIn("tests/e2e/", check_style.WALL_SLEEP_ALLOWED_DIRS)
        body = "void f() {\n" + "".join(f"  {c}\n" for c in self.SLEEPS) + "}\n"
        self.write("tests/bench/rpc_bench.cpp", body)
        self.write("tests/e2e/netshelf/restart_test.cpp", body)
        self.assert_clean()

    def test_env_sleep_on_a_clock_does_not_fire(self):
        self.write("tests/sim/rebuild_test.cpp",
                   "co_await sleep_for(f.env().clock, milliseconds(10));\n"
                   "co_await sleep_for(sim.clock(), 1s);\n")
        self.assert_clean()

    def test_sleep_in_a_comment_does_not_fire(self):
        self.write("tests/unit/a_test.cpp", "// never std::this_thread::sleep_for(1s) here\n")
        self.assert_clean()


class LayeringTest(TreeTest):
    FORBIDDEN = [
        ("hostdriver/nfs/server.cpp", "netshelf/shelf.h"),
        ("netshelf/disk/store.cpp", "hostdriver/ec/ec.h"),
        ("common/log.cpp", "protocol/frame.h"),
        ("common/env.h", "sim/sim_env.h"),
        ("protocol/frame.cpp", "netshelf/shelf.h"),
        ("protocol/frame.cpp", "hostdriver/ec/ec.h"),
        ("netshelf/shelf.cpp", "sim/sim_env.h"),
        ("hostdriver/x.h", "tests/support/echo_handler.h"),
        ("sim/cluster.cpp", "tests/support/echo_handler.h"),
    ]
    ALLOWED = [
        ("common/log.cpp", "common/env.h"),
        ("protocol/frame.cpp", "common/crc32c.h"),
        ("netshelf/shelf.cpp", "protocol/frame.h"),
        ("hostdriver/ec/ec.cpp", "protocol/rpc_client.h"),
        ("sim/cluster.cpp", "netshelf/shelf.h"),
        ("sim/cluster.cpp", "hostdriver/ec/ec.h"),
        ("tests/sim/cluster_test.cpp", "sim/cluster.h"),
        ("tests/unit/x_test.cpp", "tests/support/echo_handler.h"),
        ("protocol/frame_writer.cpp", "shelf.capnp.h"),  # generated, in the build tree
    ]

    def test_forbidden_includes_fire(self):
        for path, header in self.FORBIDDEN:
            for spelling in (f'"{header}"', f"<{header}>"):
                with self.subTest(path=path, include=spelling):
                    self.fresh()
                    self.write(path, f"#pragma once\n#include {spelling}\n")
                    self.assert_fires("layering", path, 2)

    def test_relative_include_is_resolved(self):
        self.write("hostdriver/nfs/server.cpp", '#include "../../netshelf/shelf.h"\n')
        self.assert_fires("layering", "hostdriver/nfs/server.cpp", 1)

    def test_allowed_includes_pass(self):
        for path, header in self.ALLOWED:
            self.write(path, f'#include "{header}"\n')
        self.assert_clean()

    def test_commented_out_include_does_not_fire(self):
        self.write("hostdriver/a.cpp", '// #include "netshelf/shelf.h"\n'
                                       '/* #include "netshelf/shelf.h" */\n')
        self.assert_clean()

    def test_env_asio_and_main_are_still_layered(self):
        self.write("common/env_asio/asio_env.cpp", '#include "protocol/frame.h"\n')
        self.write("hostdriver/main.cpp", '#include "netshelf/shelf.h"\n')
        found = self.violations()
        self.assertEqual(len(found), 2, found)
        self.assertTrue(all(": layering: " in v for v in found), found)


class CoroutineLambdaTest(TreeTest):
    def test_capturing_lambda_inside_co_await_fires(self):
        for area in ("common", "protocol", "tests"):
            with self.subTest(area=area):
                self.fresh()
                self.write(f"{area}/x.cpp",
                           "Task<int> f(std::string p) {\n"
                           "  co_return co_await run_compute(pool,\n"
                           "      [p]() { return p.size(); });\n"
                           "}\n")
                self.assert_fires("coroutine-lambda", f"{area}/x.cpp", 3)  # the lambda's line

    def test_braced_temporary_inside_co_await_fires(self):
        for text in ('  auto c = co_await connect(env, Address{"h", 1});\n',
                     '  auto r = co_await rpc.call(1, encode(NvramReadReq{host, from}), {});\n',
                     '  auto r = co_await f(ns::Opts<int>{.x = 1});\n'):
            with self.subTest(text=text):
                self.fresh()
                self.write("protocol/x.cpp", "Task<void> f() {\n" + text + "}\n")
                self.assert_fires("coroutine-lambda", "protocol/x.cpp", 2)

    def test_co_await_inside_conditional_fires(self):
        self.write("netshelf/x.cpp", "Task<int> f(bool b) {\n"
                   "  auto r = b ? co_await g() : co_await h();\n"
                   "  co_return r;\n}\n")
        self.assert_fires("coroutine-lambda", "netshelf/x.cpp", 2)

    def test_named_or_reference_lambdas_pass(self):
        self.write("common/x.cpp",
                   "Task<int> f(std::string p) {\n"
                   "  auto work = [p]() { return p.size(); };\n"
                   "  int a = co_await run_compute(pool, std::move(work));\n"
                   "  int b = co_await g([&]() { return 1; });\n"
                   "  int c = co_await g([&x, this]() { return 1; });\n"
                   "  co_await h(v[i]);\n"
                   "  const Address address{\"h\", 1};\n"
                   "  co_await connect(address);\n"
                   "  for (auto& c : clients) {\n"
                   "    co_await c->close();\n"
                   "  }\n"
                   "  if (x) { co_await y(); }\n"
                   "  co_return a + b + c;\n"
                   "}\n")
        self.assert_clean()


class FileSizeTest(TreeTest):
    LIMIT = check_style.MAX_FILE_LINES

    def test_long_files_fire_everywhere(self):
        for path in ("hostdriver/dedup/index.cpp", "tests/unit/common/big_test.cpp",
                     "protocol/schema/shelf.capnp", "scripts/helper.py"):
            with self.subTest(path=path):
                self.fresh()
                self.write(path, "x\n" * (self.LIMIT + 1))
                self.assert_fires("file-size", path, self.LIMIT + 1)

    def test_limit_itself_is_fine(self):
        self.write("hostdriver/dedup/index.cpp", "x\n" * self.LIMIT)
        self.write("netshelf/no_newline_at_end.h", "x\n" * (self.LIMIT - 1) + "x")
        self.assert_clean()

    def test_last_line_without_newline_counts(self):
        self.write("netshelf/a.h", "x\n" * self.LIMIT + "x")
        self.assert_fires("file-size", "netshelf/a.h", self.LIMIT + 1)


class LayoutTest(TreeTest):
    def test_missing_readme_fires(self):
        for area in check_style.README_AREAS:
            with self.subTest(area=area):
                self.fresh()
                os.remove(os.path.join(self.root, area, "README.md"))
                self.assert_fires("readme", f"{area}/README.md")

    def test_stray_top_level_entries_fire(self):
        for name in ("notes.txt", "tools/x.sh", "DESIGN.md"):
            with self.subTest(name=name):
                self.fresh()
                self.write(name, "x\n")
                self.assert_fires("top-level", name.split("/")[0])

    def test_dotfiles_and_build_are_allowed(self):
        self.write(".state/x", "")
        self.write(".github/workflows/ci.yml", "")
        self.write("build/dev/CMakeCache.txt", "")
        self.assert_clean()

    def test_build_tree_is_not_scanned(self):
        self.write("build/dev/gen.cpp", "void f() { std::thread t; }\n" + "x\n" * 900)
        self.write("common/.hidden/gen.cpp", "void f() { std::thread t; }\n")
        self.assert_clean()


if __name__ == "__main__":
    unittest.main()
