using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ClP2p.Storage.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class InboundIpFamilies : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<bool>(
                name: "ipv4_answered",
                table: "visits",
                type: "boolean",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "ipv6_answered",
                table: "visits",
                type: "boolean",
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "seen_inbound",
                table: "visits",
                type: "boolean",
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "ipv4_answered",
                table: "visits");

            migrationBuilder.DropColumn(
                name: "ipv6_answered",
                table: "visits");

            migrationBuilder.DropColumn(
                name: "seen_inbound",
                table: "visits");
        }
    }
}
