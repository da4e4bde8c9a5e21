# enforcer agent, facts: everything a plan needs, in one call, from the other
# families' ops; node.info: who this session is and what it may do.

$script:EnforcerOps['facts'] = {
    param($a)
    $ops = $script:EnforcerOps
    $services = [ordered]@{}
    foreach ($name in (Get-Arg $a 'services' @('ClusSvc', 'MSDTC') -As strings)) { $services[$name] = & $ops['service.get'] @{ name = $name } }
    $registry = [ordered]@{}
    foreach ($path in (Get-Arg $a 'registry' @() -As strings)) { $registry[$path] = & $ops['registry.get'] @{ path = $path } }
    $paths = [ordered]@{}
    foreach ($path in (Get-Arg $a 'paths' @() -As strings)) {
        # A path on a cluster disk this node does not own is unknown, not
        # absent, and must not fail the other facts.
        try {
            $paths[$path] = & $ops['path.get'] @{ path = $path }
        } catch {
            $paths[$path] = [ordered]@{ path = $path; exists = $null; error = [ordered]@{ kind = (Get-ErrorKind $_); message = (Get-ErrorMessage $_) } }
        }
    }
    $events = @()
    $eventQuery = Get-Arg $a 'events' -As object
    if ($null -ne $eventQuery) { $events = (& $ops['events.query'] $eventQuery)['events'] }

    # A node whose cluster service is down still has facts worth planning on.
    $cluster = $null
    $clusterError = $null
    try {
        $nodes = & $ops['cluster.nodes'] @{}
        $groups = & $ops['cluster.groups'] @{}
        $networks = & $ops['cluster.networks'] @{}
        $cluster = [ordered]@{
            name       = $nodes['cluster']
            local_node = $nodes['local_node']
            nodes      = $nodes['nodes']
            witness    = $nodes['witness']
            groups     = $groups['groups']
            networks   = $networks['networks']
        }
    } catch {
        $clusterError = Get-ErrorMessage $_
    }
    # Whether the cluster cmdlets are installed (RSAT-Clustering-PowerShell),
    # looked up without importing the module; a node with ClusSvc but not the
    # module fails every cluster op.
    $clusterModule = [bool](Get-Module -ListAvailable -Name FailoverClusters -ErrorAction SilentlyContinue)

    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    [ordered]@{
        hostname       = $env:COMPUTERNAME
        time           = [DateTime]::UtcNow.ToString('o')
        os             = [ordered]@{ caption = $os.Caption; version = $os.Version }
        services       = $services
        registry       = $registry
        paths          = $paths
        dtc            = & $ops['dtc.get'] @{}
        sql            = & $ops['sql.get'] @{}
        cluster        = $cluster
        cluster_error  = $clusterError
        cluster_module = $clusterModule
        events         = $events
    }
}

# Over the network a local account's token is filtered by UAC (KB 951016)
# unless LocalAccountTokenFilterPolicy is 1: IsInRole then says what the
# cluster cmdlets will find, not what the account's group membership says.
$script:EnforcerOps['node.info'] = {
    param($a)
    $identity = [Security.Principal.WindowsIdentity]::GetCurrent()
    $principal = New-Object Security.Principal.WindowsPrincipal($identity)
    $quota = {
        param([string]$Path)
        try { [int](Get-Item -Path $Path -ErrorAction Stop).Value } catch { $null }
    }
    [ordered]@{
        user                = $identity.Name
        administrator       = $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
        powershell          = $PSVersionTable.PSVersion.ToString()
        max_envelope_kb     = & $quota 'WSMan:\localhost\MaxEnvelopeSizekb'
        max_shells_per_user = & $quota 'WSMan:\localhost\Shell\MaxShellsPerUser'
    }
}
