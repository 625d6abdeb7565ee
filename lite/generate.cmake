# The data generator of `btrdb-lite generate`, included by lite/CMakeLists.txt.
#   btrq_lite_generator: the pure model, ground truth and manifest (no I/O, no client).
#   btrq_lite_generate:  the `generate` subcommand (CLI11, loads through btrq_btrdb);
#                        btrdb-lite links it and calls btrq::lite::RunGenerate.
btrq_library(btrq_lite_generator
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/generator.cc ${CMAKE_CURRENT_LIST_DIR}/manifest.cc
  DEPS btrq_common)
btrq_library(btrq_lite_generate
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/generate.cc
  DEPS btrq_lite_generator btrq_btrdb btrq_common CLI11::CLI11)
