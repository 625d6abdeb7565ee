#include "common/messages.h"

#include <type_traits>

namespace btrq {
namespace {

template <typename T>
constexpr MessageType TypeOfAlternative() {
  if constexpr (std::is_same_v<T, HelloMsg>) return MessageType::kHello;
  else if constexpr (std::is_same_v<T, CreditMsg>) return MessageType::kCredit;
  else if constexpr (std::is_same_v<T, HeartbeatMsg>) return MessageType::kHeartbeat;
  else if constexpr (std::is_same_v<T, DoneMsg>) return MessageType::kDone;
  else if constexpr (std::is_same_v<T, ByeMsg>) return MessageType::kBye;
  else if constexpr (std::is_same_v<T, TaskMsg>) return MessageType::kTask;
  else if constexpr (std::is_same_v<T, CancelMsg>) return MessageType::kCancel;
  else if constexpr (std::is_same_v<T, BrokerHeartbeatMsg>) return MessageType::kBrokerHeartbeat;
  else if constexpr (std::is_same_v<T, DrainMsg>) return MessageType::kDrain;
  else if constexpr (std::is_same_v<T, RejectMsg>) return MessageType::kReject;
  else if constexpr (std::is_same_v<T, ResultMsg>) return MessageType::kResult;
  else if constexpr (std::is_same_v<T, RefuseMsg>) return MessageType::kRefuse;
  else {
    static_assert(std::is_same_v<T, AckMsg>, "every Message alternative needs a MessageType");
    return MessageType::kAck;
  }
}

}  // namespace

MessageType TypeOf(const Message& m) {
  return std::visit(
      [](const auto& msg) { return TypeOfAlternative<std::decay_t<decltype(msg)>>(); }, m);
}

std::string_view MessageTypeName(MessageType t) {
  switch (t) {
    case MessageType::kHello: return "HELLO";
    case MessageType::kCredit: return "CREDIT";
    case MessageType::kHeartbeat: return "HEARTBEAT";
    case MessageType::kDone: return "DONE";
    case MessageType::kBye: return "BYE";
    case MessageType::kTask: return "TASK";
    case MessageType::kCancel: return "CANCEL";
    case MessageType::kBrokerHeartbeat: return "BROKER_HEARTBEAT";
    case MessageType::kDrain: return "DRAIN";
    case MessageType::kReject: return "REJECT";
    case MessageType::kRefuse: return "REFUSE";
    case MessageType::kResult: return "RESULT";
    case MessageType::kAck: return "ACK";
  }
  return "UNKNOWN";
}

}  // namespace btrq
