#include "oci/registry_client.hpp"

#include <cstring>

#include <unistd.h>

#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/file_util.hpp"
#include "base/log.hpp"
#include "crypto/sha256.hpp"
#include "oci/reference.hpp"

namespace imgctl::oci {

namespace {

constexpr size_t kWriteChunk = 512 * 1024;  // download bytes per pwrite (and per reader wake-up)

std::string header_or(const HttpResponse& r, const std::string& name) {
    auto it = r.headers.find(name);
    return it == r.headers.end() ? std::string() : it->second;
}

// The registry's error body ({"errors":[{"code":…,"message":…}]}, distribution spec) in short.
std::string error_detail(const HttpResponse& r) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (!j.is_discarded() && j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
        const auto& e = j["errors"][0];
        std::string code = e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
        std::string msg = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
        return code + (msg.empty() ? "" : ": " + msg);
    }
    return {};
}

}  // namespace

std::string url_escape(std::string_view s) {
    std::string o;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            o += static_cast<char>(c);
        } else {
            o += fmt::format("%{:02X}", c);
        }
    }
    return o;
}

RegistryClient::RegistryClient(std::string host, std::string repository, RegistryOptions opts)
    : host_(std::move(host)), repository_(std::move(repository)), opts_(std::move(opts)) {}

std::string RegistryClient::base_url() const {
    return (opts_.insecure.count(host_) ? "http://" : "https://") + host_ + "/v2/" + repository_;
}

void RegistryClient::backoff(int attempt, const HttpResponse* r) const {
    long ms = opts_.http.backoff_ms << std::min(attempt, 6);
    // A server that says when to come back (429/503 Retry-After in seconds, RFC 9110 §10.2.3)
    // is believed, up to 30 s; an HTTP date is ignored (exponential backoff instead).
    if (r) {
        std::string ra = header_or(*r, "retry-after");
        if (!ra.empty() && ra.size() < 6 && ra.find_first_not_of("0123456789") == std::string::npos)
            ms = std::min(std::stol(ra), 30L) * 1000;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

Result<void> RegistryClient::load_creds() {
    if (creds_loaded_) return {};
    auto c = load_credentials(auth_file_candidates(opts_.auth_file), host_, repository_);
    if (!c) return std::move(c).error();
    creds_ = std::move(*c);
    creds_loaded_ = true;
    return {};
}

Error RegistryClient::auth_error(long status, const std::string& url) {
    std::string why;
    if (creds_) {
        why = fmt::format("the credentials for '{}' from '{}' were rejected", host_, creds_->source);
    } else {
        std::string files;
        for (const auto& f : auth_file_candidates(opts_.auth_file)) files += (files.empty() ? "" : ", ") + f;
        why = fmt::format("no credentials for '{}' were found (looked in {})", host_, files);
    }
    return make_error(EACCES, "GET {}: {} {}: {}", url, status, status == 401 ? "Unauthorized" : "Forbidden", why);
}

Result<void> RegistryClient::authenticate(HttpClient& http, const Challenge& ch) {
    std::lock_guard lock(mu_);
    IMGCTL_TRY(load_creds());
    if (ch.scheme == "basic") {
        if (!creds_) return make_error(EACCES, "no credentials");
        if (creds_->username.empty() && !creds_->identity_token.empty())
            return make_error(EACCES, "the credentials for '{}' from '{}' are an identity token, which needs a Bearer "
                                      "token server, but the registry asks for Basic authentication",
                              host_, creds_->source);
        auth_header_ = "Authorization: Basic " + base64_encode(creds_->username + ":" + creds_->password);
        return {};
    }
    if (ch.scheme != "bearer") return make_error(EPROTONOSUPPORT, "unsupported authentication scheme '{}'", ch.scheme);
    auto realm = ch.params.find("realm");
    if (realm == ch.params.end() || realm->second.empty())
        return make_error(EBADMSG, "registry '{}' sent a Bearer challenge without a realm", host_);
    std::string query;
    if (auto s = ch.params.find("service"); s != ch.params.end()) query += "service=" + url_escape(s->second) + "&";
    auto scope = ch.params.find("scope");
    query += "scope=" + url_escape(scope != ch.params.end() ? scope->second : "repository:" + repository_ + ":pull");
    const bool oauth = creds_ && !creds_->identity_token.empty();
    Result<HttpResponse> r = make_error(EINVAL, "no token request");
    if (oauth) {
        // The OAuth2 refresh-token grant of the distribution token spec: a form POST to the realm.
        r = http.post_form(realm->second,
                           "grant_type=refresh_token&client_id=imgctl&refresh_token=" +
                               url_escape(creds_->identity_token) + "&" + query,
                           {});
    } else {
        std::vector<std::string> headers;
        if (creds_) headers.push_back("Authorization: Basic " + base64_encode(creds_->username + ":" + creds_->password));
        r = http.get(realm->second + (realm->second.find('?') == std::string::npos ? "?" : "&") + query, headers);
    }
    if (!r) return std::move(r).error().context("fetching a registry token");
    // An OAuth2 server answers a bad refresh token with 400 invalid_grant.
    if (r->status == 401 || r->status == 403 || (oauth && r->status == 400)) {
        std::string who = !creds_ ? "an anonymous request"
                          : oauth ? fmt::format("the identity token from '{}'", creds_->source)
                                  : fmt::format("the credentials from '{}'", creds_->source);
        return make_error(EACCES, "token server {} refused {} ({})", realm->second, who, r->status);
    }
    if (r->status != 200) return make_error(EIO, "token server {} answered {}", realm->second, r->status);
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    std::string token;
    if (!j.is_discarded() && j.is_object()) {
        for (const char* k : {"token", "access_token"})
            if (j.contains(k) && j[k].is_string() && !j[k].get<std::string>().empty()) token = j[k].get<std::string>();
    }
    if (token.empty()) return make_error(EBADMSG, "token server {} sent no token", realm->second);
    auth_header_ = "Authorization: Bearer " + token;
    log_debug("oci", "got a Bearer token for {} ({})", host_, creds_ ? "with credentials" : "anonymous");
    return {};
}

Result<HttpResponse> RegistryClient::authed_get(HttpClient& http, const std::string& url,
                                                std::vector<std::string> headers, const BodySink& sink) {
    std::string used;
    for (int round = 0; round < 2; ++round) {
        std::vector<std::string> h = headers;
        {
            std::lock_guard lock(mu_);
            used = auth_header_;
        }
        if (!used.empty()) h.push_back(used);
        auto r = http.get(url, h, sink);
        if (!r) return r;
        if (r->status != 401) {
            if (r->status == 403) {
                std::lock_guard lock(mu_);
                (void)load_creds();  // only for the message
                return auth_error(403, url);
            }
            return r;
        }
        std::string wa = header_or(*r, "www-authenticate");
        if (wa.empty()) return make_error(EACCES, "GET {}: 401 Unauthorized without a WWW-Authenticate challenge", url);
        auto ch = parse_challenge(wa);
        if (!ch) return std::move(ch).error();
        {
            std::lock_guard lock(mu_);
            // Another thread may have refreshed the token meanwhile: then just retry with it.
            if (auth_header_ != used) continue;
        }
        auto a = authenticate(http, *ch);
        if (!a) {
            if (a.error().code == EACCES && a.error().message == "no credentials") return auth_error(401, url);
            return std::move(a).error();
        }
    }
    std::lock_guard lock(mu_);
    return auth_error(401, url);
}

Result<HttpResponse> RegistryClient::get_with_retries(HttpClient& http, const std::string& url,
                                                      const std::vector<std::string>& headers) {
    for (int attempt = 0;; ++attempt) {
        auto r = authed_get(http, url, headers);
        bool retry = (!r && r.error().code == EAGAIN) || (r && is_retryable_status(r->status));
        if (!retry) return r;
        if (attempt >= opts_.http.retries)
            return make_error(EIO, "GET {}: giving up after {} attempts ({})", url, attempt + 1,
                              r ? fmt::format("HTTP {}", r->status) : r.error().message);
        log_debug("oci", "GET {} failed ({}), retrying", url, r ? std::to_string(r->status) : r.error().message);
        backoff(attempt, r ? &*r : nullptr);
    }
}

Result<FetchedManifest> RegistryClient::get_manifest(std::string_view reference) {
    HttpClient http(opts_.http);
    std::string url = base_url() + "/manifests/" + std::string(reference);
    auto r = get_with_retries(http, url, {"Accept: " + std::string(media::kAcceptManifests)});
    if (!r) return std::move(r).error();
    if (r->status == 404)
        return make_error(ENOENT, "manifest '{}' not found in {}/{} ({})", reference, host_, repository_,
                          error_detail(*r).empty() ? "404" : error_detail(*r));
    if (r->status != 200)
        return make_error(EIO, "GET {}: HTTP {} {}", url, r->status, error_detail(*r));
    FetchedManifest m{std::move(r->body), header_or(*r, "content-type"), ""};
    m.digest = sha256_digest_of(m.body);
    if (is_sha256_digest(reference) && m.digest != reference)
        return make_error(EBADMSG, "manifest from {} has digest {}, expected {}", url, m.digest, reference);
    std::string dcd = header_or(*r, "docker-content-digest");
    if (is_sha256_digest(dcd) && dcd != m.digest)
        return make_error(EBADMSG, "manifest from {} has digest {} but the registry says {}", url, m.digest, dcd);
    return m;
}

Result<std::string> RegistryClient::get_blob(const Descriptor& d) {
    HttpClient http(opts_.http);
    std::string url = base_url() + "/blobs/" + d.digest;
    auto r = get_with_retries(http, url, {});
    if (!r) return std::move(r).error();
    if (r->status != 200) return make_error(r->status == 404 ? ENOENT : EIO, "GET {}: HTTP {} {}", url, r->status, error_detail(*r));
    if (static_cast<int64_t>(r->body.size()) != d.size || sha256_digest_of(r->body) != d.digest)
        return make_error(EBADMSG, "blob {} from {} does not match its digest or size", d.digest, host_);
    return std::move(r->body);
}

Result<void> RegistryClient::download_blob(const Descriptor& d, int fd, const std::function<void(int64_t)>& progress) {
    HttpClient http(opts_.http);
    std::string url = base_url() + "/blobs/" + d.digest;
    // The file is append-only, so a reader may follow it (GrowingFile) and trust that what it
    // read is what gets verified here: a response that starts again from byte 0 (a server
    // ignoring Range) must re-send the bytes already in the file identically (compared), and
    // only bytes past them are appended. `hashed` is the position in the blob of the next byte
    // the server sends; below `written` those bytes are being compared ("replayed").
    crypto::Sha256 hash;
    uint64_t hashed = 0, written = 0;
    std::vector<std::byte> pending;  // curl hands over 16 KiB at a time: write in bigger pieces
    pending.reserve(kWriteChunk);
    std::vector<std::byte> old;      // file bytes to compare a replay with
    const uint64_t size = static_cast<uint64_t>(d.size);
    std::optional<Error> sink_error;
    bool first_chunk = true;     // of the current response
    bool wrong_range = false;    // a 206 that does not start where we asked
    auto flush = [&]() -> Result<void> {
        if (pending.empty()) return {};
        IMGCTL_TRY(pwrite_all(fd, pending, static_cast<off_t>(written)));
        written += pending.size();
        if (progress) progress(static_cast<int64_t>(pending.size()));  // after the write (GrowingFile)
        pending.clear();
        return {};
    };
    auto replay = [&](std::span<const std::byte> data) -> Result<void> {
        old.resize(data.size());
        auto n = pread_full(fd, old, static_cast<off_t>(hashed));
        if (!n) return std::move(n).error().context("re-reading the download");
        if (*n != data.size() || std::memcmp(old.data(), data.data(), data.size()) != 0)
            return make_error(EBADMSG, "blob {} changed between attempts (bytes from {} differ)", d.digest, hashed);
        hash.update(data);
        hashed += data.size();
        return {};
    };
    BodySink sink = [&](const HttpResponse& resp, std::span<const std::byte> data) {
        if (first_chunk) {
            first_chunk = false;
            if (resp.status == 206 && !header_or(resp, "content-range").starts_with(fmt::format("bytes {}-", hashed))) {
                // Not the range we asked for (RFC 9110 §14.4): drop it, start over without Range.
                wrong_range = true;
                return false;
            }
            if (resp.status == 200 && hashed > 0) {  // the server ignored our Range: from byte 0 again
                hash = crypto::Sha256();
                hashed = 0;
            }
        }
        if (hashed < written) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), written - hashed));
            if (auto r = replay(data.first(n)); !r) {
                sink_error = std::move(r).error();
                return false;
            }
            data = data.subspan(n);
        }
        if (data.empty()) return true;
        if (hashed + data.size() > size) {
            sink_error = make_error(EBADMSG, "blob {} is larger than its descriptor's {} bytes", d.digest, size);
            return false;
        }
        pending.insert(pending.end(), data.begin(), data.end());
        hash.update(data);
        hashed += data.size();
        if (pending.size() >= kWriteChunk) {
            if (auto w = flush(); !w) {
                sink_error = std::move(w).error();
                return false;
            }
        }
        return true;
    };
    for (int attempt = 0;; ++attempt) {
        std::vector<std::string> headers;
        if (hashed > 0) headers.push_back(fmt::format("Range: bytes={}-", hashed));
        sink_error.reset();
        first_chunk = true;
        wrong_range = false;
        uint64_t before = hashed;
        auto r = authed_get(http, url, headers, sink);
        if (!sink_error) {
            if (auto w = flush(); !w) sink_error = std::move(w).error();  // what arrived before a cut counts
        }
        if (sink_error) return std::move(*sink_error).context(fmt::format("downloading {}", url));
        bool retry = false;
        if (wrong_range) {
            log_debug("oci", "blob {}: the server answered a different range, starting again from byte 0", d.digest);
            hash = crypto::Sha256();
            hashed = 0;
            retry = true;
        } else if (!r) {
            if (r.error().code != EAGAIN) return std::move(r).error();
            retry = true;
        } else if (is_retryable_status(r->status)) {
            retry = true;
        } else if (r->status == 404) {
            return make_error(ENOENT, "blob {} not found in {}/{}", d.digest, host_, repository_);
        } else if (r->status != 200 && r->status != 206) {
            return make_error(EIO, "GET {}: HTTP {} {}", url, r->status, error_detail(*r));
        } else if (hashed < size) {
            retry = true;  // the connection ended early without a transport error
        }
        if (!retry) break;
        if (attempt >= opts_.http.retries)
            return make_error(EIO, "GET {}: giving up after {} attempts ({})", url, attempt + 1,
                              r ? fmt::format("HTTP {}", r->status) : r.error().message);
        log_debug("oci", "blob {}: attempt {} ended at byte {} (got {} this time: {}), {}", d.digest, attempt + 1, hashed,
                  hashed - std::min(before, hashed), r ? fmt::format("HTTP {}", r->status) : r.error().message,
                  hashed > 0 ? "resuming" : "retrying");
        backoff(attempt, r ? &*r : nullptr);
    }
    if (hashed != size || written != size)
        return make_error(EBADMSG, "blob {}: got {} bytes, expected {}", d.digest, written, size);
    std::string got = "sha256:" + hash.finish().hex();
    if (got != d.digest)
        return make_error(EBADMSG, "blob from {} does not match its digest: expected {}, got {}", url, d.digest, got);
    return {};
}

}  // namespace imgctl::oci
