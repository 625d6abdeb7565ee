#include "btrdb/connect_options.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <utility>


#include "common/file_util.h"
#include "common/yaml.h"

namespace btrq::btrdb {
namespace {

constexpr std::string_view kCredentialsRelPath = ".predictivegrid/credentials.yaml";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The <profile>.btrdb section of the credentials file, as the Python client reads it.
struct ProfileCredentials {
  std::vector<std::string> endpoints;
  std::string api_key;
};

// Reads `profile` from the credentials file. A missing file or a missing "default"
// profile yields empty credentials; a missing named profile is NotFound.
Result<ProfileCredentials> LoadProfile(const EnvLookup& env, const std::string& profile) {
  const bool is_default = profile == "default";
  std::optional<std::string> home = env("HOME");
  if (!home || home->empty()) {
    if (is_default) return ProfileCredentials{};
    return Status::NotFound("BTrDB profile '" + profile + "' asked for but HOME is not set");
  }
  const std::filesystem::path path = std::filesystem::path(*home) / kCredentialsRelPath;
  const Result<std::string> text = ReadFileToString(path.string());
  if (!text.ok()) {
    if (is_default) return ProfileCredentials{};
    return Status::NotFound("BTrDB profile '" + profile + "' asked for but " + path.string() +
                            " cannot be read");
  }

  ProfileCredentials creds;
  const std::string bad = path.string() + ": not a valid credentials file: ";
  YamlError error;
  Result<YamlNode> root = ParseYaml(*text, &error);
  if (!root.ok()) return Status::InvalidArgument(bad + error.message);
  const YamlNode* section = root->Find(profile);
  if (section == nullptr || !section->IsMap()) {
    if (is_default) return ProfileCredentials{};
    return Status::NotFound("BTrDB profile '" + profile + "' not found in " + path.string());
  }
  const YamlNode* btrdb = section->Find("btrdb");
  if (btrdb == nullptr || !btrdb->IsMap()) return creds;
  if (const YamlNode* e = btrdb->Find("endpoints"); e != nullptr) {
    if (e->IsSequence()) {
      for (const YamlNode& item : e->items) {
        if (!item.IsScalar()) return Status::InvalidArgument(bad + "endpoints must be strings");
        for (std::string& ep : SplitEndpoints(item.scalar)) creds.endpoints.push_back(std::move(ep));
      }
    } else if (e->IsScalar()) {
      creds.endpoints = SplitEndpoints(e->scalar);
    }
  }
  // The Python client accepts both spellings.
  for (const char* key : {"api_key", "apikey"}) {
    if (const YamlNode* k = btrdb->Find(key); k != nullptr && k->IsScalar()) {
      creds.api_key = k->scalar;
      break;
    }
  }
  return creds;
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::vector<std::string> SplitEndpoints(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view part = Trim(text.substr(0, comma));
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

Result<ConnectOptions> ResolveConnectOptions(const ConnectOptions& explicit_opts,
                                             const EnvLookup& env) {
  ConnectOptions out = explicit_opts;
  std::vector<std::string> explicit_endpoints;
  for (const std::string& e : explicit_opts.endpoints) {
    for (std::string& part : SplitEndpoints(e)) explicit_endpoints.push_back(std::move(part));
  }
  out.endpoints = std::move(explicit_endpoints);

  std::string profile = explicit_opts.profile;
  if (profile.empty()) profile = env("BTRDB_PROFILE").value_or("");
  if (profile.empty()) profile = "default";
  out.profile = profile;

  // The profile is read only when something is still missing, so a broken file cannot
  // block a fully explicit configuration; a named profile is always checked.
  const std::optional<std::string> env_endpoints = env("BTRDB_ENDPOINTS");
  const std::optional<std::string> env_key = env("BTRDB_API_KEY");
  const bool need_profile = profile != "default" ||
                            (out.endpoints.empty() && !env_endpoints) ||
                            (out.api_key.empty() && !env_key);
  ProfileCredentials from_profile;
  if (need_profile) {
    BTRQ_ASSIGN_OR_RETURN(from_profile, LoadProfile(env, profile));
  }

  if (out.endpoints.empty()) {
    out.endpoints = env_endpoints ? SplitEndpoints(*env_endpoints) : from_profile.endpoints;
  }
  if (out.api_key.empty()) {
    out.api_key = env_key ? *env_key : from_profile.api_key;
  }
  if (out.ca_bundle.empty()) out.ca_bundle = env("BTRDB_CA_BUNDLE").value_or("");

  if (out.endpoints.empty()) {
    return Status::InvalidArgument(
        "no BTrDB endpoints: pass them, set BTRDB_ENDPOINTS, or add a '" + profile +
        ".btrdb.endpoints' entry to ~/" + std::string(kCredentialsRelPath));
  }
  for (const std::string& e : out.endpoints) {
    BTRQ_RETURN_IF_ERROR(PlanEndpoint(e, out.tls).status());
  }
  if (out.call_timeout_ns <= 0 || out.stream_timeout_ns <= 0 || out.connect_timeout_ns <= 0) {
    return Status::InvalidArgument("BTrDB timeouts must be positive");
  }
  return out;
}

Result<EndpointPlan> PlanEndpoint(std::string_view endpoint, ConnectOptions::Tls tls) {
  const size_t colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return Status::InvalidArgument("BTrDB endpoint '" + std::string(endpoint) +
                                   "' is not host:port");
  }
  const std::string_view host = endpoint.substr(0, colon);
  const std::string_view port = endpoint.substr(colon + 1);
  bool numeric = !port.empty() && port.size() <= 5;
  for (char c : port) numeric = numeric && std::isdigit(static_cast<unsigned char>(c));
  // An unbracketed IPv6 address has more colons than the port separator.
  const bool bad_v6 = host.find(':') != std::string_view::npos &&
                      !(host.front() == '[' && host.back() == ']');
  if (!numeric || bad_v6 || std::stoi(std::string(port)) > 65535) {
    return Status::InvalidArgument("BTrDB endpoint '" + std::string(endpoint) +
                                   "' is not host:port");
  }
  EndpointPlan plan;
  plan.target = std::string(endpoint);
  switch (tls) {
    case ConnectOptions::Tls::kOn: plan.tls = true; break;
    case ConnectOptions::Tls::kOff: plan.tls = false; break;
    case ConnectOptions::Tls::kAuto: plan.tls = port == "4411"; break;
  }
  return plan;
}

}  // namespace btrq::btrdb
