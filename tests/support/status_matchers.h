#pragma once

#include <gtest/gtest.h>

#include "common/status.h"

// ASSERT_OK(expr) / EXPECT_OK(expr) for Status and Result<T>;
// ASSERT_OK_AND_ASSIGN(lhs, expr) assigns the value or fails the test.

namespace btrq::testing {
inline ::btrq::Status ToStatus(const ::btrq::Status& s) { return s; }
template <typename T>
::btrq::Status ToStatus(const ::btrq::Result<T>& r) { return r.status(); }
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
