#pragma once
// `tandem serve`: flags (each also from the environment, TANDEM_<FLAG>, and from --config), then
// the server until SIGINT/SIGTERM.

#include <CLI/CLI.hpp>
#include <memory>

namespace tandem::cli {

struct ServeFlags;

class ServeCommand {
 public:
  explicit ServeCommand(CLI::App& parent);
  ~ServeCommand();
  bool parsed() const;
  int Run();

 private:
  CLI::App* app_;
  std::unique_ptr<ServeFlags> flags_;
};

}  // namespace tandem::cli
