// The `tandem` binary: one executable, one subcommand per role. Kept thin: each subcommand parses
// its flags and hands over to a module that tests link directly.

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/doc_command.h"
#include "cli/serve_command.h"
#include "cli/store_command.h"

namespace {

int Main(int argc, char** argv) {
  CLI::App app{"Tandem: a Yjs collaboration server (y-websocket protocol, durable rooms)"};
  app.set_version_flag("--version", std::string("tandem ") + TANDEM_VERSION);
  app.require_subcommand(0, 1);

  auto* version = app.add_subcommand("version", "Print the version");
  tandem::cli::ServeCommand serve(app);
  tandem::cli::StoreCommand store(app);

  // tandem doc ...
  auto* doc = app.add_subcommand("doc", "Inspect and repair stored Yjs documents (update files)");
  doc->require_subcommand(1);
  tandem::cli::DocOptions doc_options;
  std::vector<std::string> merge_inputs;
  std::string input;
  std::string output;
  std::string since;
  auto* merge =
      doc->add_subcommand("merge", "Apply every update file (any order) and write the full state");
  merge->add_flag("--v2", doc_options.v2, "Inputs and output use update format v2");
  merge->add_option("-o,--output", output, "Output file")->required();
  merge->add_option("inputs", merge_inputs, "Update files")->required()->check(CLI::ExistingFile);
  auto* json = doc->add_subcommand("json", "Print every root type as JSON");
  json->add_flag("--v2", doc_options.v2, "The file uses update format v2");
  json->add_option("file", input, "Update file")->required()->check(CLI::ExistingFile);
  auto* sv = doc->add_subcommand("sv", "Print the state vector as JSON {\"client\": clock}");
  sv->add_flag("--v2", doc_options.v2, "The file uses update format v2");
  sv->add_option("file", input, "Update file")->required()->check(CLI::ExistingFile);
  auto* diff =
      doc->add_subcommand("diff", "Write the update a peer with the given state vector lacks");
  diff->add_flag("--v2", doc_options.v2, "Input and output use update format v2");
  diff->add_option("file", input, "Update file")->required()->check(CLI::ExistingFile);
  diff->add_option("--since", since, "File holding the peer's encoded state vector")
      ->required()
      ->check(CLI::ExistingFile);
  diff->add_option("-o,--output", output, "Output file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "tandem: " << e.what() << " (see --help)\n";
    return 2;
  }

  if (serve.parsed()) return serve.Run();
  if (store.parsed()) return store.Run();
  if (merge->parsed()) return tandem::cli::DocMerge(doc_options, merge_inputs, output, std::cerr);
  if (json->parsed()) return tandem::cli::DocJson(doc_options, input, std::cout, std::cerr);
  if (sv->parsed()) return tandem::cli::DocStateVector(doc_options, input, std::cout, std::cerr);
  if (diff->parsed()) return tandem::cli::DocDiff(doc_options, input, since, output, std::cerr);

  if (version->parsed() || app.get_subcommands().empty()) {
    std::cout << "tandem " << TANDEM_VERSION << "\n";
    if (app.get_subcommands().empty()) std::cout << app.help();
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // One catch-all at the root: a library exception (CLI11, Boost, the standard library) ends the
  // process with a message instead of std::terminate.
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "tandem: " << e.what() << "\n";
    return 70;
  }
}
