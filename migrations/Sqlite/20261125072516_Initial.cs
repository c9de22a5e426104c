using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ClP2p.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "agent_versions",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    raw = table.Column<string>(type: "TEXT", nullable: false),
                    client = table.Column<string>(type: "TEXT", nullable: true),
                    version = table.Column<string>(type: "TEXT", nullable: true),
                    os = table.Column<string>(type: "TEXT", nullable: true),
                    arch = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_agent_versions", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "crawls",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    network = table.Column<string>(type: "TEXT", nullable: false),
                    started_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    finished_at = table.Column<DateTime>(type: "TEXT", nullable: true),
                    state = table.Column<string>(type: "TEXT", nullable: false),
                    nodes_found = table.Column<int>(type: "INTEGER", nullable: false),
                    cl_nodes = table.Column<int>(type: "INTEGER", nullable: false),
                    dialled = table.Column<int>(type: "INTEGER", nullable: false),
                    dial_ok = table.Column<int>(type: "INTEGER", nullable: false),
                    failures = table.Column<int>(type: "INTEGER", nullable: false),
                    parameters_json = table.Column<string>(type: "TEXT", nullable: true),
                    summary_json = table.Column<string>(type: "TEXT", nullable: true),
                    census_built_at = table.Column<DateTime>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_crawls", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "ip_addresses",
                columns: table => new
                {
                    address = table.Column<string>(type: "TEXT", nullable: false),
                    country = table.Column<string>(type: "TEXT", nullable: true),
                    city = table.Column<string>(type: "TEXT", nullable: true),
                    asn = table.Column<long>(type: "INTEGER", nullable: true),
                    as_org = table.Column<string>(type: "TEXT", nullable: true),
                    looked_up_at = table.Column<DateTime>(type: "TEXT", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_ip_addresses", x => x.address);
                });

            migrationBuilder.CreateTable(
                name: "nodes",
                columns: table => new
                {
                    node_id = table.Column<byte[]>(type: "BLOB", nullable: false),
                    public_key = table.Column<byte[]>(type: "BLOB", nullable: true),
                    peer_id = table.Column<string>(type: "TEXT", nullable: true),
                    first_seen = table.Column<DateTime>(type: "TEXT", nullable: false),
                    last_seen = table.Column<DateTime>(type: "TEXT", nullable: false),
                    latest_seq = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_nodes", x => x.node_id);
                });

            migrationBuilder.CreateTable(
                name: "visits",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    crawl_id = table.Column<long>(type: "INTEGER", nullable: true),
                    node_id = table.Column<byte[]>(type: "BLOB", nullable: false),
                    visited_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    kind = table.Column<string>(type: "TEXT", nullable: false),
                    enr_seq = table.Column<long>(type: "INTEGER", nullable: true),
                    ip = table.Column<string>(type: "TEXT", nullable: true),
                    discovery_answered = table.Column<bool>(type: "INTEGER", nullable: true),
                    neighbours = table.Column<int>(type: "INTEGER", nullable: true),
                    discovery_error = table.Column<string>(type: "TEXT", nullable: true),
                    dial_outcome = table.Column<string>(type: "TEXT", nullable: false),
                    dial_error = table.Column<string>(type: "TEXT", nullable: true),
                    failed_step = table.Column<string>(type: "TEXT", nullable: true),
                    latency_ms = table.Column<int>(type: "INTEGER", nullable: true),
                    agent_version_id = table.Column<long>(type: "INTEGER", nullable: true),
                    peer_id = table.Column<string>(type: "TEXT", nullable: true),
                    muxer = table.Column<string>(type: "TEXT", nullable: true),
                    status_fork_digest = table.Column<string>(type: "TEXT", nullable: true),
                    finalized_root = table.Column<byte[]>(type: "BLOB", nullable: true),
                    finalized_epoch = table.Column<long>(type: "INTEGER", nullable: true),
                    head_root = table.Column<byte[]>(type: "BLOB", nullable: true),
                    head_slot = table.Column<long>(type: "INTEGER", nullable: true),
                    earliest_available_slot = table.Column<long>(type: "INTEGER", nullable: true),
                    status_version = table.Column<int>(type: "INTEGER", nullable: true),
                    metadata_seq = table.Column<long>(type: "INTEGER", nullable: true),
                    metadata_attnets = table.Column<string>(type: "TEXT", nullable: true),
                    metadata_syncnets = table.Column<string>(type: "TEXT", nullable: true),
                    custody_group_count = table.Column<long>(type: "INTEGER", nullable: true),
                    metadata_version = table.Column<int>(type: "INTEGER", nullable: true),
                    goodbye_reason = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_visits", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "crawl_census",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    crawl_id = table.Column<long>(type: "INTEGER", nullable: false),
                    network = table.Column<string>(type: "TEXT", nullable: false),
                    dimension = table.Column<string>(type: "TEXT", nullable: false),
                    key = table.Column<string>(type: "TEXT", nullable: true),
                    label = table.Column<string>(type: "TEXT", nullable: true),
                    count = table.Column<long>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_crawl_census", x => x.id);
                    table.ForeignKey(
                        name: "fk_crawl_census_crawls_crawl_id",
                        column: x => x.crawl_id,
                        principalTable: "crawls",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "enr_history",
                columns: table => new
                {
                    node_id = table.Column<byte[]>(type: "BLOB", nullable: false),
                    seq = table.Column<long>(type: "INTEGER", nullable: false),
                    raw = table.Column<byte[]>(type: "BLOB", nullable: false),
                    seen_at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    ip4 = table.Column<string>(type: "TEXT", nullable: true),
                    ip6 = table.Column<string>(type: "TEXT", nullable: true),
                    udp = table.Column<int>(type: "INTEGER", nullable: true),
                    tcp = table.Column<int>(type: "INTEGER", nullable: true),
                    quic = table.Column<int>(type: "INTEGER", nullable: true),
                    udp6 = table.Column<int>(type: "INTEGER", nullable: true),
                    tcp6 = table.Column<int>(type: "INTEGER", nullable: true),
                    fork_digest = table.Column<string>(type: "TEXT", nullable: true),
                    fork_name = table.Column<string>(type: "TEXT", nullable: true),
                    network_name = table.Column<string>(type: "TEXT", nullable: true),
                    next_fork_version = table.Column<string>(type: "TEXT", nullable: true),
                    next_fork_epoch = table.Column<long>(type: "INTEGER", nullable: true),
                    attnets = table.Column<string>(type: "TEXT", nullable: true),
                    syncnets = table.Column<string>(type: "TEXT", nullable: true),
                    cgc = table.Column<long>(type: "INTEGER", nullable: true),
                    nfd = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_enr_history", x => new { x.node_id, x.seq });
                    table.ForeignKey(
                        name: "fk_enr_history_nodes_node_id",
                        column: x => x.node_id,
                        principalTable: "nodes",
                        principalColumn: "node_id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_agent_versions_client",
                table: "agent_versions",
                column: "client");

            migrationBuilder.CreateIndex(
                name: "ix_agent_versions_raw",
                table: "agent_versions",
                column: "raw",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_crawl_census_crawl_id_dimension",
                table: "crawl_census",
                columns: new[] { "crawl_id", "dimension" });

            migrationBuilder.CreateIndex(
                name: "ix_crawls_started_at",
                table: "crawls",
                column: "started_at");

            migrationBuilder.CreateIndex(
                name: "ix_crawls_state",
                table: "crawls",
                column: "state");

            migrationBuilder.CreateIndex(
                name: "ix_ip_addresses_asn",
                table: "ip_addresses",
                column: "asn");

            migrationBuilder.CreateIndex(
                name: "ix_ip_addresses_country",
                table: "ip_addresses",
                column: "country");

            migrationBuilder.CreateIndex(
                name: "ix_visits_crawl_id_node_id",
                table: "visits",
                columns: new[] { "crawl_id", "node_id" });

            migrationBuilder.CreateIndex(
                name: "ix_visits_node_id_crawl_id",
                table: "visits",
                columns: new[] { "node_id", "crawl_id" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "agent_versions");

            migrationBuilder.DropTable(
                name: "crawl_census");

            migrationBuilder.DropTable(
                name: "enr_history");

            migrationBuilder.DropTable(
                name: "ip_addresses");

            migrationBuilder.DropTable(
                name: "visits");

            migrationBuilder.DropTable(
                name: "crawls");

            migrationBuilder.DropTable(
                name: "nodes");
        }
    }
}
