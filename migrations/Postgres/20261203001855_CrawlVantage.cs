using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ClP2p.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class CrawlVantage : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<long>(
                name: "source_crawl_id",
                table: "crawls",
                type: "bigint",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "vantage",
                table: "crawls",
                type: "text",
                nullable: false,
                defaultValue: "default");

            migrationBuilder.CreateIndex(
                name: "ix_crawls_vantage_source_crawl_id",
                table: "crawls",
                columns: new[] { "vantage", "source_crawl_id" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_crawls_vantage_source_crawl_id",
                table: "crawls");

            migrationBuilder.DropColumn(
                name: "source_crawl_id",
                table: "crawls");

            migrationBuilder.DropColumn(
                name: "vantage",
                table: "crawls");
        }
    }
}
