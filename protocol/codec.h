// protocol/codec.h
// Encoding capnp bodies and decoding them safely. Decoding validates the segment table, bounds
// capnp's traversal by the body's own size and nesting depth, and converts the message into plain
// C++ values inside one try block: kj::Exception (malformed capnp) becomes kProtocol here and
// nowhere else (STYLE.md "Errors"), so no capnp reader escapes into handlers.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <span>
#include <string>
#include <type_traits>

#include "protocol/frame.h"

namespace splitarray::protocol {

// Builds a body: fill(builder_root) populates the message.
template <class Schema, class Fill>
kj::Array<capnp::word> encode_body(Fill&& fill) {
  capnp::MallocMessageBuilder builder;
  fill(builder.initRoot<Schema>());
  return capnp::messageToFlatArray(builder);
}

inline constexpr size_t kTraversalWordsPerBodyWord = 8;

namespace detail {
template <class T>
struct Unwrap {
  using type = T;
};
template <class T>
struct Unwrap<Result<T>> {
  using type = T;
};
}  // namespace detail

// Decodes a body as Schema and converts it with `convert(reader) -> T` (or -> Result<T>).
// Converters: call each list/text getter once and keep the reader (`auto fps = r.getFps();`);
// a getter inside a loop is charged the whole list per call and soon exceeds the budget.
template <class Schema, class Convert>
auto decode_body(std::span<const capnp::word> body, const FrameLimits& limits, Convert&& convert)
    -> Result<
        typename detail::Unwrap<std::invoke_result_t<Convert, typename Schema::Reader>>::type> {
  if (body.empty()) return make_error(Code::kProtocol, "missing message body");
  RETURN_IF_ERROR(validate_segment_table(body, limits));
  capnp::ReaderOptions options;
  // Bounded by what we received: capnp charges every read against this budget, so a hostile
  // message whose pointers all alias one big list cannot make us walk more than a small multiple
  // of its own size. The multiple lets converters read a field more than once.
  options.traversalLimitInWords = kTraversalWordsPerBodyWord * body.size();
  options.nestingLimit = kNestingLimit;
  try {
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(body.data(), body.size()), options);
    return convert(reader.getRoot<Schema>());
  } catch (const kj::Exception& e) {
    return make_error(Code::kProtocol,
                      std::string("malformed message: ") + e.getDescription().cStr());
  }
}

}  // namespace splitarray::protocol
