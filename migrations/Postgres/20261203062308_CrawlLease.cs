using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ClP2p.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class CrawlLease : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "heartbeat_at",
                table: "crawls",
                type: "timestamp with time zone",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "heartbeat_at",
                table: "crawls");
        }
    }
}
