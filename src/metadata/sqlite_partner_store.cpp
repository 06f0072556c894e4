// SqliteMetadataStore: partners and their administration (disable, secrets, deletion).

#include "metadata/sql_encoding.hpp"
#include "metadata/sqlite_store_access.hpp"

namespace audiodrop::metadata {
namespace {

using sql::partner_not_found;
using sqlite::run;
using sqlite::Session;
using sqlite::Statement;

// Reads kPartnerColumns starting at column `first`.
Partner read_partner(const Statement& s, int first = 0) {
    Partner p{s.text(first),
              s.text(first + 1),
              s.text(first + 2),
              s.text(first + 3),
              core::from_unix(s.int64(first + 4)),
              s.int64(first + 5),
              std::nullopt};
    if (!s.is_null(first + 6)) p.disabled_at = core::from_unix(s.int64(first + 6));
    return p;
}

// The statements of a revocation, in the caller's write: raises the partner's token
// generation, setting `also_set` too (", column = ?2", ?2 bound by `bind`), and forgets
// its refresh tokens. Returns the new generation.
template <class Bind>
core::Result<std::int64_t> revoke_in(Session& s, const std::string& client_id,
                                     std::string_view also_set, Bind bind) {
    AUDIODROP_TRY_ASSIGN(auto raise, s.statement("UPDATE partners SET token_generation = "
                                                 "token_generation + 1" +
                                                 std::string(also_set) +
                                                 " WHERE client_id = ?1 RETURNING "
                                                 "token_generation"));
    raise.bind(1, client_id);
    bind(raise);
    AUDIODROP_TRY_ASSIGN(const bool found, raise.step("revoke a partner's tokens"));
    if (!found) return partner_not_found(client_id);
    const std::int64_t generation = raise.int64(0);
    AUDIODROP_TRY(raise.step("revoke a partner's tokens"));
    AUDIODROP_TRY_ASSIGN(auto forget,
                         s.statement("DELETE FROM refresh_tokens WHERE client_id = ?"));
    forget.bind(1, client_id);
    AUDIODROP_TRY(run(forget, "delete a partner's refresh tokens"));
    return generation;
}

core::Result<PartnerHoldings> holdings_in(Session& s, const std::string& client_id) {
    AUDIODROP_TRY_ASSIGN(
        auto stmt,
        s.statement("SELECT coalesce((SELECT open FROM partner_open_uploads WHERE client_id = ?1), "
                    "0), (SELECT count(*) FROM uploads WHERE client_id = ?1 AND "
                    "state = 'completed')"));
    stmt.bind(1, client_id);
    AUDIODROP_TRY(stmt.step("count a partner's uploads"));
    return PartnerHoldings{sql::from_sql(stmt.int64(0)), sql::from_sql(stmt.int64(1))};
}

core::Result<bool> partner_exists(Session& s, const std::string& client_id) {
    AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("SELECT 1 FROM partners WHERE client_id = ?"));
    stmt.bind(1, client_id);
    AUDIODROP_TRY_ASSIGN(const bool found, stmt.step("read a partner"));
    if (found) AUDIODROP_TRY(stmt.step("read a partner"));
    return found;
}

}  // namespace

core::Result<std::optional<Partner>> SqliteMetadataStore::find_partner(
    const std::string& client_id) {
    return read([&](Session& s) -> core::Result<std::optional<Partner>> {
        AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("SELECT " + std::string(sql::kPartnerColumns) +
                                                    " FROM partners WHERE client_id = ?"));
        stmt.bind(1, client_id);
        AUDIODROP_TRY_ASSIGN(const bool found, stmt.step("read a partner"));
        if (!found) return std::optional<Partner>();
        return std::optional<Partner>(read_partner(stmt));
    });
}

core::Result<std::int64_t> SqliteMetadataStore::revoke_partner_tokens(
    const std::string& client_id) {
    return write([&](Session& s) {
        return sqlite::as_one_write(s,
                                    [&] { return revoke_in(s, client_id, "", [](Statement&) {}); });
    });
}

core::Result<std::vector<std::pair<std::string, std::int64_t>>>
SqliteMetadataStore::revoked_token_generations() {
    using Generations = std::vector<std::pair<std::string, std::int64_t>>;
    return read([&](Session& s) -> core::Result<Generations> {
        AUDIODROP_TRY_ASSIGN(auto stmt,
                             s.statement("SELECT client_id, token_generation FROM partners "
                                         "WHERE token_generation > 0 UNION ALL "
                                         "SELECT client_id, ? FROM deleted_partners"));
        stmt.bind(1, kDeletedPartnerGeneration);
        Generations generations;
        for (;;) {
            AUDIODROP_TRY_ASSIGN(const bool row, stmt.step("read token generations"));
            if (!row) return generations;
            generations.emplace_back(stmt.text(0), stmt.int64(1));
        }
    });
}

core::Result<std::vector<PartnerListing>> SqliteMetadataStore::list_partners() {
    return read([&](Session& s) -> core::Result<std::vector<PartnerListing>> {
        AUDIODROP_TRY_ASSIGN(auto stmt, s.statement(sql::kListPartners));
        std::vector<PartnerListing> out;
        for (;;) {
            AUDIODROP_TRY_ASSIGN(const bool row, stmt.step("list partners"));
            if (!row) return out;
            out.push_back(
                {read_partner(stmt), {sql::from_sql(stmt.int64(7)), sql::from_sql(stmt.int64(8))}});
        }
    });
}

core::Result<PartnerHoldings> SqliteMetadataStore::count_partner_holdings(
    const std::string& client_id) {
    return read([&](Session& s) { return holdings_in(s, client_id); });
}

core::Result<std::int64_t> SqliteMetadataStore::disable_partner(const std::string& client_id,
                                                                core::TimePoint at) {
    return write([&](Session& s) {
        return sqlite::as_one_write(s, [&] {
            return revoke_in(s, client_id, ", disabled_at = coalesce(disabled_at, ?2)",
                             [&](Statement& stmt) { stmt.bind(2, core::to_unix(at)); });
        });
    });
}

core::Result<void> SqliteMetadataStore::enable_partner(const std::string& client_id) {
    return write([&](Session& s) -> core::Result<void> {
        AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("UPDATE partners SET disabled_at = NULL "
                                                    "WHERE client_id = ?"));
        stmt.bind(1, client_id);
        AUDIODROP_TRY(run(stmt, "enable a partner"));
        if (sqlite3_changes(s.db()) == 0) return partner_not_found(client_id);
        return {};
    });
}

core::Result<std::int64_t> SqliteMetadataStore::replace_partner_secret(
    const std::string& client_id, const std::string& secret_hash) {
    return write([&](Session& s) {
        return sqlite::as_one_write(s, [&] {
            return revoke_in(s, client_id, ", secret_hash = ?2",
                             [&](Statement& stmt) { stmt.bind(2, secret_hash); });
        });
    });
}

core::Result<PartnerHoldings> SqliteMetadataStore::delete_partner(const std::string& client_id,
                                                                  core::TimePoint at,
                                                                  bool with_uploads) {
    return write([&](Session& s) {
        return sqlite::as_one_write(s, [&]() -> core::Result<PartnerHoldings> {
            AUDIODROP_TRY_ASSIGN(const bool exists, partner_exists(s, client_id));
            if (!exists) return partner_not_found(client_id);
            AUDIODROP_TRY_ASSIGN(const auto holdings, holdings_in(s, client_id));
            if (!with_uploads && (holdings.files > 0 || holdings.open_uploads > 0)) {
                return sql::partner_has_uploads(client_id, holdings);
            }
            for (const std::string_view step : sql::kForgetPartner) {
                AUDIODROP_TRY_ASSIGN(auto stmt, s.statement(step));
                stmt.bind(1, client_id);
                AUDIODROP_TRY(run(stmt, "delete a partner"));
            }
            AUDIODROP_TRY_ASSIGN(auto remember,
                                 s.statement("INSERT INTO deleted_partners (client_id, "
                                             "deleted_at) VALUES (?, ?)"));
            remember.bind(1, client_id).bind(2, core::to_unix(at));
            AUDIODROP_TRY(run(remember, "record a deleted partner"));
            return holdings;
        });
    });
}

}  // namespace audiodrop::metadata
