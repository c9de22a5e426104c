# ClP2p crawler + census API. Build: docker build -t clp2p . ; run: see docker-compose.yml
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Crawler/ClP2p.Crawler.csproj -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /data
COPY --from=build /app /app
ENV CLP2P_DataDir=/data
EXPOSE 5080 9000/udp
ENTRYPOINT ["dotnet", "/app/clp2p.dll"]
CMD ["run", "--urls", "http://0.0.0.0:5080"]
