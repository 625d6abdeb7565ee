#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/codec.h"
#include "tests/support/status_matchers.h"

namespace btrq {
namespace {

TaskSpec Task(int i, Fields params = {}) {
  TaskSpec t;
  Uuid u;
  u.bytes[0] = static_cast<uint8_t>(i + 1);
  t.key = {static_cast<JobId>(100 + i), u, int64_t{1000} * i};
  t.attempt = 2;
  t.end = t.key.start + 1000;
  t.analytic = "quality";
  t.params = std::move(params);
  return t;
}

// A frame of tasks 0..n-1 where the tasks in `poisoned` carry a param over max_str.
std::string Frame(int n, const std::vector<int>& poisoned, size_t big = (1u << 20) + 100) {
  TaskMsg msg;
  for (int i = 0; i < n; ++i) {
    const bool bad = std::find(poisoned.begin(), poisoned.end(), i) != poisoned.end();
    msg.tasks.push_back(Task(i, bad ? Fields{{"x", std::string(big, 'p')}} : Fields{}));
  }
  return EncodeMessage(Message(std::move(msg)));
}

TEST(SalvageTaskFrame, KeepsTheTasksThatDecodeAndNamesTheOnesThatDoNot) {
  const std::string frame = Frame(5, {1, 3});
  ASSERT_FALSE(DecodeMessage(frame).ok());  // the frame as a whole is refused
  ASSERT_OK_AND_ASSIGN(SalvagedTasks s, SalvageTaskFrame(frame));
  ASSERT_EQ(s.tasks.tasks.size(), 3u);
  EXPECT_EQ(s.tasks.tasks[0].key, Task(0).key);
  EXPECT_EQ(s.tasks.tasks[1].key, Task(2).key);
  EXPECT_EQ(s.tasks.tasks[2].key, Task(4).key);
  ASSERT_EQ(s.refused.size(), 2u);
  EXPECT_EQ(s.refused[0].task, (TaskRef{Task(1).key, 2}));
  EXPECT_EQ(s.refused[1].task, (TaskRef{Task(3).key, 2}));
  EXPECT_NE(s.refused[0].reason.find("limits"), std::string::npos) << s.refused[0].reason;
  EXPECT_EQ(s.lost, 0u);
}

TEST(SalvageTaskFrame, EachOfTheFourPoisonShapesIsRefusedByKey) {
  Fields many;
  for (int i = 0; i < 5000; ++i) many.emplace_back("p" + std::to_string(i), int64_t{i});
  const Fields dup = {{"a", int64_t{1}}, {"a", int64_t{2}}};
  const Fields big = {{"x", std::string((1u << 20) + 1, 'b')}};
  for (const Fields& params : {many, dup, big}) {
    TaskMsg msg;
    msg.tasks.push_back(Task(7, params));
    const std::string frame = EncodeMessage(Message(std::move(msg)));
    ASSERT_FALSE(DecodeMessage(frame).ok());
    ASSERT_OK_AND_ASSIGN(SalvagedTasks s, SalvageTaskFrame(frame));
    EXPECT_TRUE(s.tasks.tasks.empty());
    ASSERT_EQ(s.refused.size(), 1u);
    EXPECT_EQ(s.refused[0].task.key, Task(7).key);
  }
  // A frame over max_frame_bytes whose tasks are each fine: every task is kept.
  CodecLimits small;
  small.max_frame_bytes = 4096;
  TaskMsg msg;
  for (int i = 0; i < 64; ++i) msg.tasks.push_back(Task(i, {{"note", std::string(100, 'n')}}));
  const std::string frame = EncodeMessage(Message(std::move(msg)));
  ASSERT_GT(frame.size(), small.max_frame_bytes);
  ASSERT_FALSE(DecodeMessage(frame, small).ok());
  ASSERT_OK_AND_ASSIGN(SalvagedTasks s, SalvageTaskFrame(frame, small));
  EXPECT_EQ(s.tasks.tasks.size(), 64u);
  EXPECT_TRUE(s.refused.empty());
}

TEST(SalvageTaskFrame, RefusesFramesThatAreNotTaskFrames) {
  EXPECT_FALSE(SalvageTaskFrame(EncodeMessage(Message(CancelMsg{3}))).ok());
  EXPECT_FALSE(SalvageTaskFrame("\x93\x01").ok());
  EXPECT_FALSE(SalvageTaskFrame("").ok());
  // A truncated TASK frame cannot be walked.
  const std::string frame = Frame(3, {1});
  EXPECT_FALSE(SalvageTaskFrame(frame.substr(0, frame.size() / 2)).ok());
}

TEST(TaskEncodedBytesBound, IsAnUpperBound) {
  for (const Fields& params :
       {Fields{}, Fields{{"rate", 30.0}, {"n", int64_t{-1}}},
        Fields{{"long", std::string(70000, 'l')}, {"s", std::string("v")}}}) {
    TaskSpec t = Task(1, params);
    t.version = ~uint64_t{0};
    t.key.job = ~uint64_t{0};
    t.key.start = INT64_MIN;
    const size_t one = EncodeMessage(Message(TaskMsg{{t}})).size();
    EXPECT_LE(one, TaskEncodedBytesBound(t) + kTaskFrameOverheadBytes);
  }
}

}  // namespace
}  // namespace btrq
