using AgentFunctions.Composition;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Hosting;

var builder = FunctionsApplication.CreateBuilder(args);
builder.Services.AddAgentFunctions(builder.Configuration);
builder.Build().Run();
