#include "btrdb/connect_options.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace btrq::btrdb {
namespace {

using ::btrq::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Tls = ConnectOptions::Tls;

// An injected environment with HOME in a fresh temp dir.
class ResolveTest : public ::testing::Test {
 protected:
  ResolveTest() { vars_["HOME"] = home_.path(); }

  EnvLookup Env() {
    return [this](std::string_view name) -> std::optional<std::string> {
      auto it = vars_.find(std::string(name));
      if (it == vars_.end()) return std::nullopt;
      return it->second;
    };
  }

  void WriteCredentials(const std::string& yaml) {
    std::filesystem::create_directories(home_.File(".predictivegrid"));
    std::ofstream(home_.File(".predictivegrid/credentials.yaml")) << yaml;
  }

  testing::TempDir home_;
  std::map<std::string, std::string> vars_;
};

constexpr char kTwoProfiles[] = R"(
default:
  btrdb:
    endpoints: profile-host:4410
    api_key: profile-key
prod:
  btrdb:
    endpoints: "prod-a:4411, prod-b:4411"
    apikey: prod-key
)";

TEST_F(ResolveTest, ExplicitOptionsWinOverEnvironmentAndProfile) {
  WriteCredentials(kTwoProfiles);
  vars_["BTRDB_ENDPOINTS"] = "env-host:4410";
  vars_["BTRDB_API_KEY"] = "env-key";
  ConnectOptions opts;
  opts.endpoints = {"explicit:4410"};
  opts.api_key = "explicit-key";
  ASSERT_OK_AND_ASSIGN(ConnectOptions r, ResolveConnectOptions(opts, Env()));
  EXPECT_THAT(r.endpoints, ElementsAre("explicit:4410"));
  EXPECT_EQ(r.api_key, "explicit-key");
}

TEST_F(ResolveTest, EnvironmentWinsOverProfile) {
  WriteCredentials(kTwoProfiles);
  vars_["BTRDB_ENDPOINTS"] = "env-host:4410";
  ASSERT_OK_AND_ASSIGN(ConnectOptions r, ResolveConnectOptions({}, Env()));
  EXPECT_THAT(r.endpoints, ElementsAre("env-host:4410"));
  // The key was not in the environment: it still comes from the default profile.
  EXPECT_EQ(r.api_key, "profile-key");
}

TEST_F(ResolveTest, DefaultProfileFillsWhatIsMissing) {
  WriteCredentials(kTwoProfiles);
  ASSERT_OK_AND_ASSIGN(ConnectOptions r, ResolveConnectOptions({}, Env()));
  EXPECT_THAT(r.endpoints, ElementsAre("profile-host:4410"));
  EXPECT_EQ(r.api_key, "profile-key");
  EXPECT_EQ(r.profile, "default");
}

TEST_F(ResolveTest, ProfileFromEnvironmentWithCommaEndpointsAndApikeySpelling) {
  WriteCredentials(kTwoProfiles);
  vars_["BTRDB_PROFILE"] = "prod";
  ASSERT_OK_AND_ASSIGN(ConnectOptions r, ResolveConnectOptions({}, Env()));
  EXPECT_THAT(r.endpoints, ElementsAre("prod-a:4411", "prod-b:4411"));
  EXPECT_EQ(r.api_key, "prod-key");
}

TEST_F(ResolveTest, ExplicitProfileWinsOverBtrdbProfile) {
  WriteCredentials(kTwoProfiles);
  vars_["BTRDB_PROFILE"] = "prod";
  ConnectOptions opts;
  opts.profile = "default";
  ASSERT_OK_AND_ASSIGN(ConnectOptions r, ResolveConnectOptions(opts, Env()));
  EXPECT_THAT(r.endpoints, ElementsAre("profile-host:4410"));
}

TEST_F(ResolveTest, ProfileEndpointsMayBeAYamlList) {
  WriteCredentials("default:\n  btrdb:\n    endpoints: [a:4410, 'b:4410,c:4410']\n");
  ASSERT_OK_AND_ASSIGN(ConnectOptions r, ResolveConnectOptions({}, Env()));
  EXPECT_THAT(r.endpoints, ElementsAre("a:4410", "b:4410", "c:4410"));
  EXPECT_EQ(r.api_key, "");
}

TEST_F(ResolveTest, MissingNamedProfileIsNotFound) {
  WriteCredentials(kTwoProfiles);
  vars_["BTRDB_PROFILE"] = "staging";
  vars_["BTRDB_ENDPOINTS"] = "env-host:4410";
  const Result<ConnectOptions> r = ResolveConnectOptions({}, Env());
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kNotFound, HasSubstr("staging")));
}

TEST_F(ResolveTest, NamedProfileWithoutCredentialsFileIsNotFound) {
  ConnectOptions opts;
  opts.profile = "prod";
  opts.endpoints = {"h:4410"};
  const Result<ConnectOptions> r = ResolveConnectOptions(opts, Env());
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kNotFound));
}

TEST_F(ResolveTest, MissingFileAndDefaultProfileIsFineWhenEnvironmentHasEndpoints) {
  vars_["BTRDB_ENDPOINTS"] = " a:4410 ,, b:4410 ";
  ASSERT_OK_AND_ASSIGN(ConnectOptions r, ResolveConnectOptions({}, Env()));
  EXPECT_THAT(r.endpoints, ElementsAre("a:4410", "b:4410"));
  EXPECT_EQ(r.api_key, "");
}

TEST_F(ResolveTest, NoEndpointsAnywhereIsInvalidArgument) {
  const Result<ConnectOptions> r = ResolveConnectOptions({}, Env());
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument, HasSubstr("BTRDB_ENDPOINTS")));
}

TEST_F(ResolveTest, ExplicitCommaSeparatedEndpointIsSplit) {
  ConnectOptions opts;
  opts.endpoints = {"a:4410,b:4411"};
  ASSERT_OK_AND_ASSIGN(ConnectOptions r, ResolveConnectOptions(opts, Env()));
  EXPECT_THAT(r.endpoints, ElementsAre("a:4410", "b:4411"));
}

TEST_F(ResolveTest, MalformedEndpointIsInvalidArgument) {
  vars_["BTRDB_ENDPOINTS"] = "just-a-host";
  const Result<ConnectOptions> r = ResolveConnectOptions({}, Env());
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument));
}

TEST_F(ResolveTest, MalformedCredentialsFileIsInvalidArgument) {
  WriteCredentials("default: [unclosed\n");
  const Result<ConnectOptions> r = ResolveConnectOptions({}, Env());
  ASSERT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument, HasSubstr("credentials.yaml")));
}

TEST_F(ResolveTest, CaBundleFromEnvironmentUnlessExplicit) {
  vars_["BTRDB_ENDPOINTS"] = "a:4411";
  vars_["BTRDB_CA_BUNDLE"] = "/env/ca.pem";
  ASSERT_OK_AND_ASSIGN(ConnectOptions from_env, ResolveConnectOptions({}, Env()));
  EXPECT_EQ(from_env.ca_bundle, "/env/ca.pem");
  ConnectOptions opts;
  opts.ca_bundle = "/explicit/ca.pem";
  ASSERT_OK_AND_ASSIGN(ConnectOptions explicit_ca, ResolveConnectOptions(opts, Env()));
  EXPECT_EQ(explicit_ca.ca_bundle, "/explicit/ca.pem");
}

TEST_F(ResolveTest, ApiKeyNeverAppearsInErrors) {
  vars_["BTRDB_API_KEY"] = "s3cret-key";
  vars_["BTRDB_ENDPOINTS"] = "no-port";
  const Result<ConnectOptions> r = ResolveConnectOptions({}, Env());
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().ToString(), ::testing::Not(HasSubstr("s3cret")));
}

TEST(PlanEndpoint, TlsExactlyOnPort4411WhenAuto) {
  ASSERT_OK_AND_ASSIGN(EndpointPlan tls, PlanEndpoint("db.example.com:4411", Tls::kAuto));
  EXPECT_TRUE(tls.tls);
  EXPECT_EQ(tls.target, "db.example.com:4411");
  ASSERT_OK_AND_ASSIGN(EndpointPlan plain, PlanEndpoint("db.example.com:4410", Tls::kAuto));
  EXPECT_FALSE(plain.tls);
  ASSERT_OK_AND_ASSIGN(EndpointPlan other, PlanEndpoint("127.0.0.1:44110", Tls::kAuto));
  EXPECT_FALSE(other.tls);
}

TEST(PlanEndpoint, ExplicitTlsSettingOverridesThePort) {
  ASSERT_OK_AND_ASSIGN(EndpointPlan on, PlanEndpoint("h:4410", Tls::kOn));
  EXPECT_TRUE(on.tls);
  ASSERT_OK_AND_ASSIGN(EndpointPlan off, PlanEndpoint("h:4411", Tls::kOff));
  EXPECT_FALSE(off.tls);
}

TEST(PlanEndpoint, AcceptsBracketedIpv6) {
  ASSERT_OK_AND_ASSIGN(EndpointPlan p, PlanEndpoint("[::1]:4411", Tls::kAuto));
  EXPECT_TRUE(p.tls);
  EXPECT_EQ(p.target, "[::1]:4411");
}

TEST(PlanEndpoint, RejectsWhatIsNotHostPort) {
  for (const char* bad : {"host", ":4410", "host:", "host:port", "host:99999", "::1:4410"}) {
    const Result<EndpointPlan> p = PlanEndpoint(bad, Tls::kAuto);
    ASSERT_THAT(p.status(), StatusIs(StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(SplitEndpoints, TrimsAndDropsEmptyParts) {
  EXPECT_THAT(SplitEndpoints("a:1, b:2,,  "), ElementsAre("a:1", "b:2"));
  EXPECT_TRUE(SplitEndpoints("").empty());
}

}  // namespace
}  // namespace btrq::btrdb
