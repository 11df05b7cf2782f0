#include <doctest/doctest.h>

#include <memory>
#include <set>

#include "common/result.h"

namespace splitarray {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return make_error(Code::kInvalidArgument, "not positive");
  return v;
}

Result<int> doubled(int v) {
  ASSIGN_OR_RETURN(const int x, parse_positive(v));
  return 2 * x;
}

Result<void> check(int v) {
  RETURN_IF_ERROR(parse_positive(v));
  return ok_result();
}

TEST_CASE("common/result: value and error paths") {
  Result<int> good = parse_positive(3);
  REQUIRE(good.ok());
  CHECK(good.value() == 3);
  Result<int> bad = parse_positive(-1);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.code() == Code::kInvalidArgument);
  CHECK(bad.error().to_string() == "invalid_argument: not positive");
}

TEST_CASE("common/result: ASSIGN_OR_RETURN and RETURN_IF_ERROR propagate the first error") {
  CHECK(doubled(4).value() == 8);
  CHECK(doubled(0).code() == Code::kInvalidArgument);
  CHECK(check(1).ok());
  CHECK(check(-5).error().message == "not positive");
}

TEST_CASE("common/result: move-only values") {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  REQUIRE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  CHECK(*p == 7);
}

TEST_CASE("common/result: every code has a distinct name") {
  std::set<std::string_view> names;
  for (int c = 1; c <= kCodeCount; ++c) names.insert(code_name(static_cast<Code>(c)));
  CHECK(names.size() == static_cast<size_t>(kCodeCount));
  CHECK(names.count("unknown") == 0);
}

}  // namespace
}  // namespace splitarray
