#include "auth/verifiers.h"

#include "auth/http_verifier.h"
#include "auth/jwt_verifier.h"
#include "net/url.h"

namespace tandem::auth {

namespace {
class NoneVerifier : public TokenVerifier {
 public:
  void Verify(AuthRequest, std::function<void(Decision)> done) override {
    done(Decision::Admit("", Access::kWrite));  // no user: events and the console say null
  }
  std::string_view mode() const override { return "none"; }
};
}  // namespace

Result<std::unique_ptr<TokenVerifier>> MakeVerifier(const AuthOptions& options,
                                                    const boost::asio::any_io_executor& executor) {
  if (options.mode == AuthMode::kNone)
    return std::unique_ptr<TokenVerifier>(std::make_unique<NoneVerifier>());
  if (options.mode == AuthMode::kJwt) {
    if (options.jwt_secret.empty()) return InvalidArgumentError("--auth jwt needs --jwt-secret");
    return std::unique_ptr<TokenVerifier>(std::make_unique<JwtVerifier>(options.jwt_secret));
  }
  if (options.mode == AuthMode::kHttp) {
    auto url = net::ParseUrl(options.auth_url);
    if (!url.ok())
      return InvalidArgumentError("--auth http needs a valid --auth-url: " +
                                  url.status().message());
    return std::unique_ptr<TokenVerifier>(
        std::make_unique<HttpVerifier>(std::make_shared<net::HttpClient>(executor), options));
  }
  return InvalidArgumentError("unknown auth mode");
}

}  // namespace tandem::auth
