using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace ClP2p.Storage.Migrations.Sqlite
{
    /// <inheritdoc />
    public partial class DiscoveryIncomplete : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // No schema change: its application marks a database whose finished crawls' census was built before the
            // discovery dimension counted "incomplete" nodes; StoredData rebuilds those crawls' census once.
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {

        }
    }
}
