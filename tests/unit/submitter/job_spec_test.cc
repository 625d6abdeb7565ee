#include "submitter/job_spec.h"

#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"

namespace btrq::submitter {
namespace {

TEST(ParseParamValue, IntegersDoublesAndStrings) {
  EXPECT_EQ(ParseParamValue("120").int_value(), 120);
  EXPECT_EQ(ParseParamValue("-3").int_value(), -3);
  EXPECT_EQ(ParseParamValue("2.5").double_value(), 2.5);
  EXPECT_EQ(ParseParamValue("1e3").double_value(), 1000.0);
  EXPECT_EQ(ParseParamValue("-0.25").double_value(), -0.25);
  for (const char* text : {"abc", "nan", "inf", "0x10", "1.2.3", "", "12h", "e5"}) {
    const v1::Value v = ParseParamValue(text);
    EXPECT_EQ(v.kind_case(), v1::Value::kStringValue) << text;
    EXPECT_EQ(v.string_value(), text);
  }
  // Beyond int64: a double, not an error.
  EXPECT_EQ(ParseParamValue("99999999999999999999").kind_case(), v1::Value::kDoubleValue);
}

TEST(ParseParam, KeepsEverythingAfterTheFirstEquals) {
  ASSERT_OK_AND_ASSIGN(v1::Field f, ParseParam("expr=a=b"));
  EXPECT_EQ(f.name(), "expr");
  EXPECT_EQ(f.value().string_value(), "a=b");
  EXPECT_FALSE(ParseParam("=5").ok());
  EXPECT_FALSE(ParseParam("novalue").ok());
}

TEST(ParseTagFilter, ValueOrPresence) {
  ASSERT_OK_AND_ASSIGN(v1::TagFilter with_value, ParseTagFilter("unit=volts"));
  EXPECT_EQ(with_value.key(), "unit");
  EXPECT_TRUE(with_value.has_value());
  EXPECT_EQ(with_value.value(), "volts");
  ASSERT_OK_AND_ASSIGN(v1::TagFilter empty_value, ParseTagFilter("unit="));
  EXPECT_TRUE(empty_value.has_value());
  EXPECT_EQ(empty_value.value(), "");
  ASSERT_OK_AND_ASSIGN(v1::TagFilter present, ParseTagFilter("phase"));
  EXPECT_FALSE(present.has_value());
  EXPECT_EQ(ParseTagFilter("=x").status().code(), StatusCode::kInvalidArgument);
}

TEST(ParsePin, NeedsAUuidAndAPositiveVersion) {
  ASSERT_OK_AND_ASSIGN(v1::PinnedVersion pin, ParsePin("0f3c6a5e1d2b4c3a9e8f112233445566=12"));
  EXPECT_EQ(pin.version(), 12u);
  EXPECT_EQ(pin.stream().size(), 16u);
  EXPECT_FALSE(ParsePin("0f3c6a5e1d2b4c3a9e8f112233445566=0").ok());
  EXPECT_FALSE(ParsePin("0f3c6a5e1d2b4c3a9e8f112233445566").ok());
  EXPECT_FALSE(ParsePin("nope=3").ok());
}

TEST(ApplySubmitFlags, ListsMergeByKeyAndStreamsReplace) {
  v1::JobSpec spec;
  spec.add_streams(std::string(16, 'a'));
  v1::Field* p = spec.add_params();
  p->set_name("rate");
  p->mutable_value()->set_int_value(1);
  p = spec.add_params();
  p->set_name("min");
  p->mutable_value()->set_int_value(0);

  SubmitFlags flags;
  flags.params = {"rate=2", "max=9"};
  flags.streams = {"0f3c6a5e-1d2b-4c3a-9e8f-112233445566"};
  ASSERT_OK(ApplySubmitFlags(flags, 0, &spec));
  ASSERT_EQ(spec.params_size(), 3);
  EXPECT_EQ(spec.params(0).name(), "rate");
  EXPECT_EQ(spec.params(0).value().int_value(), 2);
  EXPECT_EQ(spec.params(1).name(), "min");
  EXPECT_EQ(spec.params(2).name(), "max");
  ASSERT_EQ(spec.streams_size(), 1);
  EXPECT_NE(spec.streams(0), std::string(16, 'a'));
}

TEST(ApplySubmitFlags, RelativeTimesUseNow) {
  v1::JobSpec spec;
  SubmitFlags flags;
  flags.start = "now-1h";
  flags.end = "now";
  ASSERT_OK(ApplySubmitFlags(flags, 10'000'000'000'000, &spec));
  EXPECT_EQ(spec.start(), 10'000'000'000'000 - 3'600'000'000'000);
  EXPECT_EQ(spec.end(), 10'000'000'000'000);
}

TEST(ValidateJobSpec, RejectsDuplicateStreamsAndParams) {
  v1::JobSpec spec;
  spec.set_analytic("quality");
  spec.add_streams(std::string(16, 'a'));
  spec.add_streams(std::string(16, 'a'));
  EXPECT_EQ(ValidateJobSpec(spec).code(), StatusCode::kInvalidArgument);
  spec.clear_streams();
  spec.set_collection("c");
  spec.add_params()->set_name("x");
  spec.add_params()->set_name("x");
  EXPECT_EQ(ValidateJobSpec(spec).message(), "param \"x\" is given twice");
}

}  // namespace
}  // namespace btrq::submitter
