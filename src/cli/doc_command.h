#pragma once
// `tandem doc ...`: inspect and repair stored Yjs documents. Each command returns the process
// exit code: 0 ok, 2 bad input (one line on `err`, nothing written).

#include <ostream>
#include <string>
#include <vector>

namespace tandem::cli {

struct DocOptions {
  bool v2 = false;  // inputs and outputs use update format v2
};

// Applies every update file (any order) to one document and writes its full state to `out_path`.
int DocMerge(const DocOptions& options, const std::vector<std::string>& inputs,
             const std::string& out_path, std::ostream& err);
// Prints every root type as JSON.
int DocJson(const DocOptions& options, const std::string& input, std::ostream& out,
            std::ostream& err);
// Prints the state vector as JSON {"client": clock}.
int DocStateVector(const DocOptions& options, const std::string& input, std::ostream& out,
                   std::ostream& err);
// Writes the update a peer with the state vector in `sv_path` lacks.
int DocDiff(const DocOptions& options, const std::string& input, const std::string& sv_path,
            const std::string& out_path, std::ostream& err);

}  // namespace tandem::cli
