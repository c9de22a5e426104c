using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ClP2p.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class VisitsSlim : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // visits.peer_id goes (a node's peer id follows from its key and lives in nodes): keep any the node row
            // lacks. Runs while the node_id index is still there.
            migrationBuilder.Sql(
                "UPDATE nodes SET peer_id = (SELECT v.peer_id FROM visits v WHERE v.node_id = nodes.node_id AND v.peer_id IS NOT NULL LIMIT 1) " +
                "WHERE peer_id IS NULL");

            migrationBuilder.DropIndex(
                name: "ix_visits_node_id_crawl_id",
                table: "visits");

            migrationBuilder.DropColumn(
                name: "peer_id",
                table: "visits");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "peer_id",
                table: "visits",
                type: "TEXT",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_visits_node_id_crawl_id",
                table: "visits",
                columns: new[] { "node_id", "crawl_id" });
        }
    }
}
