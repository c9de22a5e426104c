using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ClP2p.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class InboundContactsIndex : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_visits_node_id_visited_at",
                table: "visits",
                columns: new[] { "node_id", "visited_at" },
                filter: "kind IN ('inbound_discv5', 'inbound_libp2p')");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_visits_node_id_visited_at",
                table: "visits");
        }
    }
}
