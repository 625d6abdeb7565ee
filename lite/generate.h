#pragma once

// `btrdb-lite generate`: loads synthetic sensor streams with known, injected defects
// (lite/generator.h) into a BTrDB server through btrq's C++ client, and writes the
// manifest with the ground truth (lite/manifest.h).
//
//   btrdb-lite generate [--endpoint HOST:PORT] [--collection C] [--streams N]
//       [--start T] [--duration D] [--rate HZ] [--seed S] [--defects on|off]
//       [--manifest FILE] [--manifest-chunk D] [--stuck-min K] [--gap-factor F]
//       [--dry-run]
//
// The endpoint defaults to $BTRDB_ENDPOINTS (as the Python client); $BTRDB_API_KEY is
// honoured. --dry-run plans the data and writes the manifest without a server.

#include <string>
#include <vector>

#include "lite/generator.h"
#include "common/status.h"

namespace btrq::lite {

struct GenerateCommand {
  GeneratorOptions generator;
  std::string endpoint;  // empty: $BTRDB_ENDPOINTS
  std::string manifest;  // empty: no manifest
  bool dry_run = false;
};

// Parses the arguments after "generate" (args[0] is the program or subcommand name and
// is skipped). On --help, prints usage and returns Cancelled. InvalidArgument on bad
// flags, with CLI11's message.
Result<GenerateCommand> ParseGenerateArgs(const std::vector<std::string>& args);

// Runs the command: creates and fills every stream, flushes it, writes the manifest,
// prints one summary line to stdout.
Status Generate(const GenerateCommand& command);

// The `generate` subcommand of btrdb-lite; argv[0] is "generate" or the program name
// (then an argv[1] of "generate" is skipped too). Returns the process exit code.
int RunGenerate(int argc, char** argv);

}  // namespace btrq::lite
