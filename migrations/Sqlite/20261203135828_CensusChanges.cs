using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ClP2p.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class CensusChanges : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "census_changes",
                columns: table => new
                {
                    id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    txid = table.Column<long>(type: "INTEGER", nullable: true),
                    at = table.Column<DateTime>(type: "TEXT", nullable: false),
                    kind = table.Column<string>(type: "TEXT", nullable: false),
                    crawl_id = table.Column<long>(type: "INTEGER", nullable: true),
                    rows = table.Column<long>(type: "INTEGER", nullable: false),
                    keys = table.Column<string>(type: "TEXT", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_census_changes", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_census_changes_txid",
                table: "census_changes",
                column: "txid");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "census_changes");
        }
    }
}
