// PostgresMetadataStore: partners and their administration (disable, secrets, deletion).

#include "metadata/postgres_store_access.hpp"
#include "metadata/sql_encoding.hpp"

namespace audiodrop::metadata {
namespace {

using postgres::Connection;
using postgres::Params;
using postgres::QueryResult;
using sql::partner_not_found;

// Reads kPartnerColumns of `row`.
core::Result<Partner> read_partner(const QueryResult& r, int row) {
    AUDIODROP_TRY_ASSIGN(const std::int64_t created_at, r.int64(row, 4));
    AUDIODROP_TRY_ASSIGN(const std::int64_t generation, r.int64(row, 5));
    Partner p{
        r.text(row, 0), r.text(row, 1), r.text(row, 2), r.text(row, 3), core::from_unix(created_at),
        generation,     std::nullopt};
    if (!r.is_null(row, 6)) {
        AUDIODROP_TRY_ASSIGN(const std::int64_t disabled_at, r.int64(row, 6));
        p.disabled_at = core::from_unix(disabled_at);
    }
    return p;
}

// A revocation in one transaction: raises the partner's token generation, setting
// `also_set` too (", column = $2", $2 the second of `params`), and forgets its refresh
// tokens. `params` starts with the client_id. Returns the new generation.
core::Result<std::int64_t> revoke_in(Connection& c, const std::string& client_id,
                                     std::string_view also_set, const Params& params) {
    AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
    AUDIODROP_TRY_ASSIGN(auto r, c.exec("UPDATE partners SET token_generation = "
                                        "token_generation + 1" +
                                            std::string(also_set) +
                                            " WHERE client_id = $1 RETURNING token_generation",
                                        params, "revoke a partner's tokens"));
    if (r.rows() == 0) return partner_not_found(client_id);
    AUDIODROP_TRY_ASSIGN(const std::int64_t generation, r.int64(0, 0));
    AUDIODROP_TRY(c.exec("DELETE FROM refresh_tokens WHERE client_id = $1", Params().add(client_id),
                         "delete a partner's refresh tokens"));
    AUDIODROP_TRY(tx.commit());
    return generation;
}

core::Result<PartnerHoldings> holdings_in(Connection& c, const std::string& client_id) {
    AUDIODROP_TRY_ASSIGN(auto r, c.exec("SELECT coalesce((SELECT open FROM partner_open_uploads "
                                        "WHERE client_id = $1), 0), (SELECT count(*) FROM uploads "
                                        "WHERE client_id = $1 AND state = 'completed')",
                                        Params().add(client_id), "count a partner's uploads"));
    AUDIODROP_TRY_ASSIGN(const std::int64_t open, r.int64(0, 0));
    AUDIODROP_TRY_ASSIGN(const std::int64_t files, r.int64(0, 1));
    return PartnerHoldings{sql::from_sql(open), sql::from_sql(files)};
}

}  // namespace

core::Result<std::optional<Partner>> PostgresMetadataStore::find_partner(
    const std::string& client_id) {
    return with_connection([&](Connection& c) -> core::Result<std::optional<Partner>> {
        AUDIODROP_TRY_ASSIGN(auto r, c.exec("SELECT " + std::string(sql::kPartnerColumns) +
                                                " FROM partners WHERE client_id = $1",
                                            Params().add(client_id), "read a partner"));
        if (r.rows() == 0) return std::optional<Partner>();
        AUDIODROP_TRY_ASSIGN(auto p, read_partner(r, 0));
        return std::optional<Partner>(std::move(p));
    });
}

core::Result<std::int64_t> PostgresMetadataStore::revoke_partner_tokens(
    const std::string& client_id) {
    return with_connection(
        [&](Connection& c) { return revoke_in(c, client_id, "", Params().add(client_id)); });
}

core::Result<std::vector<std::pair<std::string, std::int64_t>>>
PostgresMetadataStore::revoked_token_generations() {
    using Generations = std::vector<std::pair<std::string, std::int64_t>>;
    return with_connection([&](Connection& c) -> core::Result<Generations> {
        AUDIODROP_TRY_ASSIGN(
            auto r, c.exec("SELECT client_id, token_generation FROM partners "
                           "WHERE token_generation > 0 UNION ALL "
                           "SELECT client_id, $1::bigint FROM deleted_partners",
                           Params().add(kDeletedPartnerGeneration), "read token generations"));
        Generations generations;
        for (int row = 0; row < r.rows(); ++row) {
            AUDIODROP_TRY_ASSIGN(const std::int64_t generation, r.int64(row, 1));
            generations.emplace_back(r.text(row, 0), generation);
        }
        return generations;
    });
}

core::Result<std::vector<PartnerListing>> PostgresMetadataStore::list_partners() {
    return with_connection([&](Connection& c) -> core::Result<std::vector<PartnerListing>> {
        AUDIODROP_TRY_ASSIGN(auto r, c.exec(sql::kListPartners, Params(), "list partners"));
        std::vector<PartnerListing> out;
        for (int row = 0; row < r.rows(); ++row) {
            AUDIODROP_TRY_ASSIGN(auto partner, read_partner(r, row));
            AUDIODROP_TRY_ASSIGN(const std::int64_t open, r.int64(row, 7));
            AUDIODROP_TRY_ASSIGN(const std::int64_t files, r.int64(row, 8));
            out.push_back({std::move(partner), {sql::from_sql(open), sql::from_sql(files)}});
        }
        return out;
    });
}

core::Result<PartnerHoldings> PostgresMetadataStore::count_partner_holdings(
    const std::string& client_id) {
    return with_connection([&](Connection& c) { return holdings_in(c, client_id); });
}

core::Result<std::int64_t> PostgresMetadataStore::disable_partner(const std::string& client_id,
                                                                  core::TimePoint at) {
    return with_connection([&](Connection& c) {
        return revoke_in(c, client_id, ", disabled_at = coalesce(disabled_at, $2)",
                         Params().add(client_id).add(core::to_unix(at)));
    });
}

core::Result<void> PostgresMetadataStore::enable_partner(const std::string& client_id) {
    return with_connection([&](Connection& c) -> core::Result<void> {
        AUDIODROP_TRY_ASSIGN(auto r, c.exec("UPDATE partners SET disabled_at = NULL "
                                            "WHERE client_id = $1",
                                            Params().add(client_id), "enable a partner"));
        if (r.affected_rows() == 0) return partner_not_found(client_id);
        return {};
    });
}

core::Result<std::int64_t> PostgresMetadataStore::replace_partner_secret(
    const std::string& client_id, const std::string& secret_hash) {
    return with_connection([&](Connection& c) {
        return revoke_in(c, client_id, ", secret_hash = $2",
                         Params().add(client_id).add(secret_hash));
    });
}

core::Result<PartnerHoldings> PostgresMetadataStore::delete_partner(const std::string& client_id,
                                                                    core::TimePoint at,
                                                                    bool with_uploads) {
    return with_connection([&](Connection& c) -> core::Result<PartnerHoldings> {
        AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
        // Locked first, so concurrent changes of the partner wait for the delete.
        AUDIODROP_TRY_ASSIGN(auto found,
                             c.exec("SELECT 1 FROM partners WHERE client_id = $1 FOR UPDATE",
                                    Params().add(client_id), "lock a partner"));
        if (found.rows() == 0) return partner_not_found(client_id);
        AUDIODROP_TRY_ASSIGN(const auto holdings, holdings_in(c, client_id));
        if (!with_uploads && (holdings.files > 0 || holdings.open_uploads > 0)) {
            return sql::partner_has_uploads(client_id, holdings);
        }
        for (const std::string_view step : sql::kForgetPartner) {
            AUDIODROP_TRY(c.exec(step, Params().add(client_id), "delete a partner"));
        }
        AUDIODROP_TRY(
            c.exec("INSERT INTO deleted_partners (client_id, deleted_at) "
                   "VALUES ($1, $2)",
                   Params().add(client_id).add(core::to_unix(at)), "record a deleted partner"));
        AUDIODROP_TRY(tx.commit());
        return holdings;
    });
}

}  // namespace audiodrop::metadata
