// common/asio.h
// The one way to include Boost.Asio's coroutine support. Core code uses only the coroutine and
// executor parts (awaitable, co_spawn, post, io_context as an event loop); sockets, files, threads
// and clocks are touched only in common/env_asio/ and main.cpp files (STYLE.md).
#pragma once

// Boost 1.74 + GCC 12: asio/awaitable.hpp uses std::exchange without including <utility>.
#include <utility>

#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace splitarray {

namespace asio = boost::asio;

template <class T>
using Task = asio::awaitable<T>;

}  // namespace splitarray
