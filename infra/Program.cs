using DoK8sHa;
using Pulumi;

return await Deployment.RunAsync(ClusterProgram.Run);
