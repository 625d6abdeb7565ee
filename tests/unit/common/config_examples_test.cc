// The example configs in config/ load cleanly and mean what their comments say.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include <filesystem>

#include "common/clock.h"
#include "common/config.h"
#include "common/listen_gate.h"
#include "common/options.h"
#include "common/time_util.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ExamplePath(const std::string& name) {
  return std::string(BTRQ_SOURCE_DIR) + "/config/" + name;
}

TEST(ConfigExamples, LocalSpellsOutExactlyTheDefaults) {
  BtrqConfig c;
  ASSERT_OK(LoadConfig(ExamplePath("local.yaml"), Env::FromMap({}), {}, &c));
  EXPECT_EQ(RenderConfig(c), RenderConfig(BtrqConfig()));
}

TEST(ConfigExamples, ClusterPointsWorkersAtTheHeadNode) {
  BtrqConfig c;
  ASSERT_OK(LoadConfig(ExamplePath("cluster.yaml"), Env::FromMap({}), {}, &c));
  EXPECT_EQ(c.log.format, LogFormat::kJson);
  EXPECT_EQ(SplitEndpoints(c.btrdb.endpoints).size(), 3u);
  EXPECT_FALSE(BtrdbUsesTls(c.btrdb));
  EXPECT_EQ(c.broker.tasks_listen, "tcp://0.0.0.0:7401");
  EXPECT_EQ(c.worker.broker, "tcp://btrq-head.example.net:7401");
  EXPECT_EQ(c.worker.sink, "tcp://btrq-head.example.net:7411");
  EXPECT_EQ(c.control.broker, "btrq-head.example.net:7400");
  EXPECT_EQ(c.broker.heartbeat_interval, c.worker.heartbeat_interval);
  EXPECT_EQ(c.broker.task_timeout, 10 * kNanosPerMinute);
}

TEST(ConfigExamples, SecureUsesCurveTlsAndSecretsFromFiles) {
  BtrqConfig c;
  std::string rendered;
  ASSERT_OK(LoadConfig(ExamplePath("secure.yaml"), Env::FromMap({}), {}, &c, &rendered));
  EXPECT_TRUE(c.curve.enabled);
  EXPECT_TRUE(c.curve.public_key.empty());  // follows from the secret key
  EXPECT_TRUE(c.curve.secret_key.empty());
  EXPECT_FALSE(c.curve.broker_public_key.empty());
  EXPECT_EQ(c.curve.secret_key_file, "/etc/btrq/curve.secret");
  EXPECT_FALSE(c.curve.authorized_keys_file.empty());
  EXPECT_TRUE(BtrdbUsesTls(c.btrdb));
  EXPECT_THAT(c.btrdb.endpoints, HasSubstr(":4411"));
  EXPECT_TRUE(c.btrdb.api_key.empty());
  EXPECT_EQ(c.btrdb.api_key_file, "/etc/btrq/btrdb-api-key");
  EXPECT_EQ(c.broker.control_token_file, "/etc/btrq/control-token");
  EXPECT_EQ(c.control.token_file, "/etc/btrq/control-token");
  EXPECT_FALSE(c.broker.tls_cert.empty());

  // The token may come from the environment instead, and is never printed.
  ASSERT_OK(LoadConfig(ExamplePath("secure.yaml"),
                       Env::FromMap({{"BTRQ_CONTROL_TOKEN", "t0ken"}, {"BTRDB_API_KEY", "k3y"}}),
                       {}, &c, &rendered));
  EXPECT_EQ(c.control.token, "t0ken");
  EXPECT_EQ(c.btrdb.api_key, "k3y");
  EXPECT_THAT(rendered, Not(HasSubstr("t0ken")));
  EXPECT_THAT(rendered, Not(HasSubstr("k3y")));
}

// Issue #14: config/cluster.yaml listened on 0.0.0.0 with no token and no CURVE. Every
// example must pass the gate broker and sink apply at start, without `insecure: true`.
TEST(ConfigExamples, EveryExampleIsSecureAsShipped) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ExamplePath(""))) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    SCOPED_TRACE(entry.path().string());
    BtrqConfig c;
    ASSERT_OK(LoadConfig(entry.path().string(), Env::FromMap({}), {}, &c));
    EXPECT_FALSE(c.broker.insecure);
    EXPECT_FALSE(c.sink.insecure);
    EXPECT_OK(CheckBrokerListeners(c.broker, c.curve));
    EXPECT_OK(CheckSinkListeners(c.sink, c.curve));
    EXPECT_TRUE(c.worker.exec_commands.empty());  // exec is off unless allow-listed
    // The HTTP ports have no token (metrics, dashboard, dead-letter errors): loopback.
    for (const std::string& http : {c.broker.http_listen, c.sink.http_listen, c.worker.http_listen}) {
      EXPECT_TRUE(http.empty() || IsLoopbackEndpoint(http)) << http;
    }
  }
  EXPECT_GE(files, 3u);
}

TEST(ConfigExamples, ClusterRequiresTokenCurveAndLeaseSecret) {
  BtrqConfig c;
  ASSERT_OK(LoadConfig(ExamplePath("cluster.yaml"), Env::FromMap({}), {}, &c));
  EXPECT_TRUE(c.curve.enabled);
  EXPECT_FALSE(c.curve.authorized_keys_file.empty());
  EXPECT_FALSE(c.broker.control_token_file.empty());
  EXPECT_FALSE(c.sink.control_token_file.empty());
  EXPECT_EQ(c.broker.lease_secret_file, c.sink.lease_secret_file);
  EXPECT_FALSE(c.broker.lease_secret_file.empty());
}

TEST(ConfigExamples, ExecCommandsNestUnderWorker) {
  BtrqConfig c;
  ConfigBinder binder(SystemClock::Default());
  BindConfig(&c, &binder);
  ASSERT_OK(binder.LoadYamlText("worker:\n  exec:\n    commands: [\"/usr/bin/python3\", "
                                "\"/opt/btrq/bin/*\"]\n", "test.yaml"));
  EXPECT_EQ(c.worker.exec_commands,
            (std::vector<std::string>{"/usr/bin/python3", "/opt/btrq/bin/*"}));
  EXPECT_THAT(binder.LoadYamlText("worker:\n  exec:\n    comands: []\n", "t.yaml").message(),
              HasSubstr("worker.exec.comands: unknown key"));
  ASSERT_OK(LoadConfig("", Env::FromMap({{"BTRQ_WORKER_EXEC_COMMANDS", "/bin/a, /bin/b"}}),
                       {"worker.exec.commands=/bin/c"}, &c));
  EXPECT_EQ(c.worker.exec_commands, std::vector<std::string>{"/bin/c"});
  ASSERT_OK(LoadConfig("", Env::FromMap({{"BTRQ_WORKER_EXEC_COMMANDS", "/bin/a, /bin/b"}}), {},
                       &c));
  EXPECT_EQ(c.worker.exec_commands, (std::vector<std::string>{"/bin/a", "/bin/b"}));
}

TEST(ConfigExamples, PythonNestsUnderWorkerAndIsOffByDefault) {
  BtrqConfig c;
  EXPECT_TRUE(c.worker.python.modules.empty());
  EXPECT_EQ(c.worker.python.interpreter, "/usr/bin/python3");
  ConfigBinder binder(SystemClock::Default());
  BindConfig(&c, &binder);
  ASSERT_OK(binder.LoadYamlText("worker:\n  python:\n    modules: [qa, \"mylab.*\"]\n"
                                "    path: [/opt/a]\n    interpreter: /venv/bin/python\n"
                                "    memory_limit_mb: 512\n", "test.yaml"));
  EXPECT_EQ(c.worker.python.modules, (std::vector<std::string>{"qa", "mylab.*"}));
  EXPECT_EQ(c.worker.python.path, std::vector<std::string>{"/opt/a"});
  EXPECT_EQ(c.worker.python.interpreter, "/venv/bin/python");
  EXPECT_EQ(c.worker.python.memory_limit_mb, 512u);
}

}  // namespace
}  // namespace btrq
