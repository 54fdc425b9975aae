// The `tandem` binary: one executable, one subcommand per role. Kept thin: each subcommand parses
// its flags and hands over to a module that tests link directly.

#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"Tandem: a Yjs collaboration server (y-websocket protocol, durable rooms)"};
  app.set_version_flag("--version", std::string("tandem ") + TANDEM_VERSION);
  app.require_subcommand(0, 1);

  auto* version = app.add_subcommand("version", "Print the version");

  CLI11_PARSE(app, argc, argv);

  if (version->parsed() || app.get_subcommands().empty()) {
    std::cout << "tandem " << TANDEM_VERSION << "\n";
    if (app.get_subcommands().empty()) std::cout << app.help();
  }
  return 0;
}
