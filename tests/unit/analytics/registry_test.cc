#include "analytics/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/unit/analytics/vector_point_source.h"

namespace btrq::analytics {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class Constant final : public Analytic {
 public:
  explicit Constant(int64_t v) : v_(v) {}
  Result<Fields> Run(const TaskSpec&, PointSource&, RunCounters*) const override {
    return Fields{{"v", v_}};
  }

 private:
  int64_t v_;
};

BuiltinOptions ValidateOnly() {
  BuiltinOptions o;
  o.user_code = UserCode::kValidateOnly;
  return o;
}

// Issue #14: exec ran any command for anyone who could reach the control API.
TEST(Registry, ExecIsOffByDefault) {
  Registry registry;
  ASSERT_OK(RegisterBuiltins(&registry));
  EXPECT_THAT(registry.Names(), ElementsAre("count", "noop", "quality", "stats"));
  EXPECT_EQ(registry.ValidateParams("exec", {{"command", "/bin/sh -c id"}}).code(),
            StatusCode::kInvalidArgument);

  BuiltinOptions empty_list;
  empty_list.user_code = UserCode::kAllowList;
  Registry none_allowed;
  ASSERT_OK(RegisterBuiltins(&none_allowed, empty_list));
  EXPECT_FALSE(none_allowed.Contains("exec"));
}

TEST(Registry, ExecRunsOnlyAllowedPrograms) {
  BuiltinOptions o;
  o.user_code = UserCode::kAllowList;
  o.exec_commands = {"/usr/bin/python3", "/opt/btrq/bin/*"};
  Registry registry;
  ASSERT_OK(RegisterBuiltins(&registry, o));
  EXPECT_TRUE(registry.Contains("exec"));
  EXPECT_OK(registry.ValidateParams("exec", {{"command", "/usr/bin/python3 q.py"}}));
  EXPECT_OK(registry.ValidateParams("exec", {{"command", "[\"/opt/btrq/bin/score\"]"}}));
  const Status s = registry.ValidateParams("exec", {{"command", "/bin/sh -c id"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(s.IsTransient());
  EXPECT_THAT(s.message(), HasSubstr("'/bin/sh' is not allowed"));
}

TEST(Registry, PythonRunsOnlyAllowedModules) {
  BuiltinOptions o;
  o.user_code = UserCode::kAllowList;
  Registry off;
  ASSERT_OK(RegisterBuiltins(&off, o));
  EXPECT_FALSE(off.Contains("python"));

  o.python_modules = {"qa", "lab.*"};
  Registry no_runtime;
  ASSERT_OK(RegisterBuiltins(&no_runtime, o));
  EXPECT_FALSE(no_runtime.Contains("python"));

  o.python_pool = std::make_shared<PythonPool>(PythonRuntimeOptions());
  Registry registry;
  ASSERT_OK(RegisterBuiltins(&registry, o));
  EXPECT_OK(registry.ValidateParams("python", {{"function", "qa:data_quality"}}));
  EXPECT_OK(registry.ValidateParams("python", {{"function", "lab.checks:Checks.run"}}));
  const Status s = registry.ValidateParams("python", {{"function", "os:system"}});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("module os is not allowed"));
}

TEST(Registry, BuiltinsAreRegisteredByName) {
  Registry registry;
  ASSERT_OK(RegisterBuiltins(&registry, ValidateOnly()));
  EXPECT_THAT(registry.Names(), ElementsAre("count", "exec", "noop", "python", "quality", "stats"));
  EXPECT_TRUE(registry.Contains("quality"));
  EXPECT_FALSE(registry.Contains("qualty"));
}

TEST(Registry, RegisteringBuiltinsTwiceFails) {
  Registry registry;
  ASSERT_OK(RegisterBuiltins(&registry));
  EXPECT_EQ(RegisterBuiltins(&registry).code(), StatusCode::kAlreadyExists);
}

TEST(Registry, UnknownAnalyticIsAPermanentError) {
  Registry registry;
  ASSERT_OK(RegisterBuiltins(&registry));
  const Status s = registry.ValidateParams("qualty", {});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(s.IsTransient());
  EXPECT_THAT(s.message(), HasSubstr("qualty"));
}

TEST(Registry, ValidateParamsRunsTheFactory) {
  Registry registry;
  ASSERT_OK(RegisterBuiltins(&registry, ValidateOnly()));
  EXPECT_OK(registry.ValidateParams("quality", {{"rate", int64_t{30}}, {"min", -1.0}}));
  EXPECT_OK(registry.ValidateParams("noop", {}));
  EXPECT_OK(registry.ValidateParams("exec", {{"command", "/usr/bin/python3 q.py"},
                                             {"threshold", 3.0}}));
  // An allow-list matches absolute paths only: a bare name is refused at submit.
  EXPECT_THAT(registry.ValidateParams("exec", {{"command", "python3 q.py"}}).message(),
              HasSubstr("absolute path"));

  const Status bad_rate = registry.ValidateParams("quality", {{"rate", "fast"}});
  EXPECT_EQ(bad_rate.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_rate.message(), HasSubstr("'rate'"));
  EXPECT_EQ(registry.ValidateParams("stats", {{"window", "1h"}, {"pointwidth", int64_t{3}}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.ValidateParams("count", {{"verbose", int64_t{1}}}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.ValidateParams("exec", {}).code(), StatusCode::kInvalidArgument);
}

TEST(Registry, EveryBuiltinAcceptsTheBrokersRateParam) {
  Registry registry;
  ASSERT_OK(RegisterBuiltins(&registry, ValidateOnly()));
  for (const std::string& name : registry.Names()) {
    Fields params = {{"rate", int64_t{120}}};
    if (name == "exec") params.emplace_back("command", "/bin/true");
    if (name == "python") params.emplace_back("function", "qa:data_quality");
    const Status s = registry.ValidateParams(name, params);
    EXPECT_TRUE(s.ok()) << name << ": " << s.ToString();
  }
}

TEST(Registry, CustomAnalyticWithItsOwnValidation) {
  Registry registry;
  ASSERT_OK(registry.Register("constant", [](const Fields& params) -> Result<std::unique_ptr<Analytic>> {
    if (params.size() != 1 || params[0].first != "v") return Status::InvalidArgument("need v");
    return std::unique_ptr<Analytic>(std::make_unique<Constant>(std::get<int64_t>(params[0].second)));
  }));
  EXPECT_EQ(registry.Register("constant", nullptr).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.Register("", nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.ValidateParams("constant", {}), Status::InvalidArgument("need v"));

  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Analytic> a, registry.Create("constant", {{"v", int64_t{7}}}));
  testing::VectorPointSource source({});
  RunCounters counters;
  ASSERT_OK_AND_ASSIGN(Fields f, a->Run(TaskSpec{}, source, &counters));
  EXPECT_EQ(f, (Fields{{"v", int64_t{7}}}));
}

}  // namespace
}  // namespace btrq::analytics
