#pragma once

// Assertions on Status and Result<T>:
//   ASSERT_OK(expr) / EXPECT_OK(expr); ASSERT_OK_AND_ASSIGN(lhs, expr) assigns the value
//   or fails the test;
//   EXPECT_THAT(r, StatusIs(StatusCode::kNotFound)) or, with a matcher on the message,
//   EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, HasSubstr("port")));
//   EXPECT_THAT(r, IsOk()).
// The matchers take a Status or a Result<T> and print the whole status on a mismatch.

#include <ostream>
#include <string>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status.h"

namespace btrq {

// How gtest prints a Status or a Result<T> in a failed assertion: the status, or the
// value it holds.
inline void PrintTo(const Status& s, std::ostream* os) { *os << s.ToString(); }
template <typename T>
void PrintTo(const Result<T>& r, std::ostream* os) {
  if (r.ok()) {
    *os << "value " << ::testing::PrintToString(*r);
  } else {
    *os << r.status().ToString();
  }
}

}  // namespace btrq

namespace btrq::testing {

inline ::btrq::Status ToStatus(const ::btrq::Status& s) { return s; }
template <typename T>
::btrq::Status ToStatus(const ::btrq::Result<T>& r) { return r.status(); }

// The polymorphic matcher behind StatusIs() and IsOk().
class StatusIsMatcher {
 public:
  StatusIsMatcher(StatusCode code, ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)) {}

  template <typename StatusOrResult>
  bool MatchAndExplain(const StatusOrResult& value,
                       ::testing::MatchResultListener* listener) const {
    const Status s = ToStatus(value);
    *listener << "whose status is " << s.ToString();
    if (s.code() != code_) return false;
    ::testing::StringMatchResultListener message_listener;
    if (message_.MatchAndExplain(s.message(), &message_listener)) return true;
    if (!message_listener.str().empty()) {
      *listener << ", and the message " << message_listener.str();
    }
    return false;
  }
  void DescribeTo(std::ostream* os) const {
    *os << "has status code " << StatusCodeName(code_) << " and a message that ";
    message_.DescribeTo(os);
  }
  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have status code " << StatusCodeName(code_) << " or has a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  StatusCode code_;
  ::testing::Matcher<const std::string&> message_;
};

// Matches a Status, or a Result<T>'s status, whose code is `code` and whose message
// matches `message` (any message by default).
inline ::testing::PolymorphicMatcher<StatusIsMatcher> StatusIs(
    StatusCode code, ::testing::Matcher<const std::string&> message = ::testing::_) {
  return ::testing::MakePolymorphicMatcher(StatusIsMatcher(code, std::move(message)));
}

// Matches an OK Status, or a Result<T> that holds a value.
inline ::testing::PolymorphicMatcher<StatusIsMatcher> IsOk() {
  return StatusIs(StatusCode::kOk);
}

}  // namespace btrq::testing

#define ASSERT_OK(expr)                                              \
  do {                                                               \
    const ::btrq::Status s_ = ::btrq::testing::ToStatus(expr);       \
    ASSERT_TRUE(s_.ok()) << #expr << " -> " << s_.ToString();        \
  } while (0)
#define EXPECT_OK(expr)                                              \
  do {                                                               \
    const ::btrq::Status s_ = ::btrq::testing::ToStatus(expr);       \
    EXPECT_TRUE(s_.ok()) << #expr << " -> " << s_.ToString();        \
  } while (0)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, rexpr)                   \
  auto tmp = (rexpr);                                                \
  ASSERT_TRUE(tmp.ok()) << #rexpr << " -> " << tmp.status().ToString(); \
  lhs = std::move(tmp).value()
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(BTRQ_CONCAT_(assign_or_, __LINE__), lhs, rexpr)
