#pragma once
// Builds the verifier of an auth mode (the composition root's side of auth): none, a local JWT
// secret (auth/jwt_verifier.h) or the app backend over HTTP (auth/http_verifier.h).

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "auth/token_verifier.h"
#include "base/result.h"

namespace tandem::auth {

// Validates the options (jwt needs a secret, http a URL) and builds the verifier; an HTTP
// verifier makes its requests on `executor`.
Result<std::unique_ptr<TokenVerifier>> MakeVerifier(const AuthOptions& options,
                                                    const boost::asio::any_io_executor& executor);

}  // namespace tandem::auth
