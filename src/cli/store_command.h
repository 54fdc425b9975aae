#pragma once
// `tandem store`: the snapshot store service (docs/STORE.md). Flags also come from the
// environment (TANDEM_STORE_<FLAG>) and --config; runs until SIGINT/SIGTERM.

#include <CLI/CLI.hpp>
#include <memory>

namespace tandem::cli {

struct StoreFlags;

class StoreCommand {
 public:
  explicit StoreCommand(CLI::App& parent);
  ~StoreCommand();
  bool parsed() const;
  int Run();

 private:
  CLI::App* app_;
  std::unique_ptr<StoreFlags> flags_;
};

}  // namespace tandem::cli
