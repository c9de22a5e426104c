using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ClP2p.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class DataCorrectness : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "digest_mismatch",
                table: "visits",
                type: "boolean",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "status_digest_sent",
                table: "visits",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "client_inferred",
                table: "agent_versions",
                type: "boolean",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "fork_digests",
                columns: table => new
                {
                    digest = table.Column<string>(type: "text", nullable: false),
                    network = table.Column<string>(type: "text", nullable: false),
                    fork = table.Column<string>(type: "text", nullable: false),
                    kind = table.Column<string>(type: "text", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_fork_digests", x => x.digest);
                });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "fork_digests");

            migrationBuilder.DropColumn(
                name: "digest_mismatch",
                table: "visits");

            migrationBuilder.DropColumn(
                name: "status_digest_sent",
                table: "visits");

            migrationBuilder.DropColumn(
                name: "client_inferred",
                table: "agent_versions");
        }
    }
}
