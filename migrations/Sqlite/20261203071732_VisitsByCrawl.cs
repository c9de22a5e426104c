using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ClP2p.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class VisitsByCrawl : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateIndex(
                name: "ix_visits_crawl_id",
                table: "visits",
                column: "crawl_id");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_visits_crawl_id",
                table: "visits");
        }
    }
}
