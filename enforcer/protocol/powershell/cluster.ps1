# enforcer agent, failover cluster ops: cluster.nodes, cluster.groups,
# cluster.networks, cluster.group.*, cluster.resource.*, cluster.node.*,
# cluster.service.*.

function Import-ClusterModule {
    if (Get-Module -Name FailoverClusters) { return }
    try {
        Import-Module -Name FailoverClusters -ErrorAction Stop
    } catch {
        throw (New-OpError 'unavailable' "the FailoverClusters module cannot be loaded: $(Get-ErrorMessage $_)")
    }
}

function Get-ClusterServiceController {
    $service = Get-ServiceOrNull 'ClusSvc'
    if ($null -eq $service) { throw (New-OpError 'unavailable' 'Failover Clustering is not installed on this node') }
    $service
}

# Cluster cmdlets fail with assorted RPC errors when the local cluster service
# is down; checking the service first gives one clear 'unavailable'.
function Assert-ClusterService {
    $service = Get-ClusterServiceController
    if ($service.Status -ne 'Running') {
        throw (New-OpError 'unavailable' "the cluster service is not running on this node (ClusSvc is $($service.Status.ToString()))")
    }
    Import-ClusterModule
}

function Find-ClusterGroup {
    param([string]$Name)
    Get-ClusterGroup | Where-Object { $_.Name -eq $Name } | Select-Object -First 1
}

function Get-ClusterGroupOrThrow {
    param([string]$Name)
    $group = Find-ClusterGroup $Name
    if ($null -eq $group) { throw (New-OpError 'not_found' "no such cluster group: $Name") }
    $group
}

function Get-ClusterNodeOrThrow {
    param([string]$Name)
    $node = Get-ClusterNode | Where-Object { $_.Name -eq $Name } | Select-Object -First 1
    if ($null -eq $node) { throw (New-OpError 'not_found' "no such cluster node: $Name") }
    $node
}

function Find-ClusterResource {
    param([string]$Name)
    Get-ClusterResource | Where-Object { $_.Name -eq $Name } | Select-Object -First 1
}

function Get-ClusterResourceOrThrow {
    param([string]$Name)
    $resource = Find-ClusterResource $Name
    if ($null -eq $resource) { throw (New-OpError 'not_found' "no such cluster resource: $Name") }
    $resource
}

# The names a resource depends on, one per line of output (callers collect
# them with @()). A dependency expression names resources in brackets, ANDs
# and ORs them and may group them in parentheses, e.g.
# "([IP Address 1] or [IP Address 2]) and [Cluster Disk 1]"; an empty
# expression means no dependencies.
function Get-ResourceDependencyNames {
    param($Resource)
    $expression = (Get-ClusterResourceDependency -InputObject $Resource).DependencyExpression
    if ($expression) {
        foreach ($match in [regex]::Matches($expression, '\[([^\]]*)\]')) { $match.Groups[1].Value }
    }
}

# The nodes a resource may come online on; OwnerNodes holds ClusterNode
# objects.
function Get-ResourcePossibleOwners {
    param($Resource)
    foreach ($node in @((Get-ClusterOwnerNode -InputObject $Resource).OwnerNodes)) {
        if ($null -ne $node) { $node.Name }
    }
}

function ConvertTo-ResourceData {
    param($Resource)
    [ordered]@{
        name            = $Resource.Name
        type            = $Resource.ResourceType.Name
        state           = $Resource.State.ToString()
        depends_on      = @(Get-ResourceDependencyNames $Resource)
        possible_owners = @(Get-ResourcePossibleOwners $Resource)
    }
}

function ConvertTo-GroupData {
    param($Group)
    $resources = @($Group | Get-ClusterResource | ForEach-Object { ConvertTo-ResourceData $_ })
    [ordered]@{ name = $Group.Name; state = $Group.State.ToString(); owner = $Group.OwnerNode.Name; resources = $resources }
}

# An all-AND dependency expression: "[a] and [b]"; no names give "", which
# clears the dependencies.
function Join-DependencyExpression {
    param([string[]]$Names)
    (@($Names) | ForEach-Object { "[$_]" }) -join ' and '
}

# Dependencies never cross groups (the cluster refuses them with an error that
# does not say which name), a resource cannot depend on itself, and a name
# with a bracket cannot be written in an expression. Returns the names as the
# cluster spells them, each once.
function Resolve-DependencyNames {
    param([string]$Group, [string]$Dependent, $Names)
    $members = @(Get-ClusterGroupOrThrow $Group | Get-ClusterResource | ForEach-Object { $_.Name })
    $resolved = New-Object System.Collections.ArrayList
    foreach ($name in @($Names)) {
        if ($name -match '[\[\]]') { throw (New-OpError 'invalid_args' "dependency '$name' cannot be written in a dependency expression (it has a bracket)") }
        if ($name -eq $Dependent) { throw (New-OpError 'invalid_args' "resource $Dependent cannot depend on itself") }
        $member = $members | Where-Object { $_ -eq $name } | Select-Object -First 1
        if ($null -eq $member) { throw (New-OpError 'invalid_args' "dependency '$name' of $Dependent is not a resource of group $Group") }
        if (@($resolved) -notcontains $member) { $null = $resolved.Add($member) }
    }
    , $resolved.ToArray()
}

# Role is a bit mask, a ClusterNetworkRole enum since Windows Server 2016 and
# a UInt32 before: 1 carries cluster traffic, 2 client traffic. 3 is the
# usual client network; 2 alone (client only, from old builds) is counted
# with it, since what matters to a role's IP address is that clients reach it.
function ConvertTo-NetworkRole {
    param($Role)
    $bits = [int]$Role
    if ($bits -band 2) { return 'cluster_and_client' }
    if ($bits -band 1) { return 'cluster' }
    'none'
}

# Address and AddressMask are the IPv4 subnet; an IPv6-only network has
# none, which is "" here rather than null.
function ConvertTo-NetworkData {
    param($Network)
    [ordered]@{
        name    = $Network.Name
        address = "$($Network.Address)"
        mask    = "$($Network.AddressMask)"
        role    = ConvertTo-NetworkRole $Network.Role
        state   = "$($Network.State)"
    }
}

# The group of the disks no role uses yet, found by its GroupType rather than
# by its display name; 'Available Storage' (that name) if no group says so.
function Get-AvailableStorageGroupName {
    $group = Get-ClusterGroup | Where-Object { "$($_.GroupType)" -eq 'AvailableStorage' } | Select-Object -First 1
    if ($null -ne $group) { return $group.Name }
    'Available Storage'
}

# A resource changes group only between two groups one node owns, whatever
# its state (ChangeClusterResourceGroup). The role being built is the one that
# moves, while all of it is offline: Available Storage keeps serving its other
# disks where they are.
function Move-GroupToNode {
    param([string]$Group, [string]$Node)
    if ((Get-ClusterGroupOrThrow $Group).OwnerNode.Name -ne $Node) {
        $null = Move-ClusterGroup -Name $Group -Node $Node
    }
}

# Puts a disk moved into a partial role back in Available Storage, as it was.
# Moving a resource moves every resource joined to it by dependencies, so
# whatever depends on the disk first stops depending on anything.
function Restore-DiskToStorage {
    param([string]$Disk, [string]$Group, [string]$StorageGroup, [bool]$Online)
    $resource = Find-ClusterResource $Disk
    if ($null -eq $resource -or $resource.OwnerGroup.Name -ne $Group) { return }
    foreach ($other in @(Get-ClusterGroupOrThrow $Group | Get-ClusterResource)) {
        if ($other.Name -ne $resource.Name -and @(Get-ResourceDependencyNames $other) -contains $resource.Name) {
            $null = Set-ClusterResourceDependency -Resource $other.Name -Dependency ''
        }
    }
    Move-GroupToNode -Group $Group -Node (Get-ClusterGroupOrThrow $StorageGroup).OwnerNode.Name
    $null = Move-ClusterResource -Name $resource.Name -Group $StorageGroup
    if ($Online -and (Get-ClusterResourceOrThrow $resource.Name).State.ToString() -ne 'Online') {
        $null = Start-ClusterResource -Name $resource.Name
    }
}

function Get-LocalNodeName {
    $local = Get-ClusterNode | Where-Object { $_.Name -eq $env:COMPUTERNAME } | Select-Object -First 1
    if ($local) { $local.Name } else { $env:COMPUTERNAME }
}

# The local node as the cluster reports it; a node whose cluster service is
# not running is Down by definition and cannot be asked, and one whose
# service is still joining cannot answer yet.
function Get-LocalNodeState {
    if ((Get-ClusterServiceController).Status -ne 'Running') { return 'Down' }
    Import-ClusterModule
    try {
        (Get-ClusterNode -Name $env:COMPUTERNAME).State.ToString()
    } catch {
        throw (New-OpError 'unavailable' "the cluster service on this node cannot answer yet: $(Get-ErrorMessage $_)")
    }
}

function Test-InSubnet {
    param([string]$Address, [string]$Network, [string]$Mask)
    $toNumber = {
        param($text)
        $bytes = ([System.Net.IPAddress]::Parse($text)).GetAddressBytes()
        [Array]::Reverse($bytes)
        [BitConverter]::ToUInt32($bytes, 0)
    }
    $maskNumber = & $toNumber $Mask
    ((& $toNumber $Address) -band $maskNumber) -eq ((& $toNumber $Network) -band $maskNumber)
}

# A new IP Address resource has neither network nor address and could never
# come online: give it the client network holding the address, or DHCP on the
# first client network when no address is given.
function Get-DtcIpParameters {
    param([string]$Address)
    $clientNetworks = @(Get-ClusterNetwork | Where-Object { [int]$_.Role -eq 3 -and $_.Address -match '^\d+\.\d+\.\d+\.\d+$' })
    if ($Address) {
        $network = $clientNetworks | Where-Object { Test-InSubnet $Address $_.Address $_.AddressMask } | Select-Object -First 1
        if ($null -eq $network) { throw (New-OpError 'invalid_args' "no client cluster network contains $Address") }
        return @{ EnableDhcp = 0; Address = $Address; SubnetMask = $network.AddressMask; Network = $network.Name }
    }
    if ($clientNetworks.Count -eq 0) { throw (New-OpError 'failed' 'the cluster has no IPv4 client network') }
    @{ EnableDhcp = 1; Network = $clientNetworks[0].Name }
}

# Starts, stops and moves are issued with -Wait 0 and then polled, so every
# wait has the op's timeout and a 'timeout' kind; Failed ends the wait early.
function Wait-ClusterGroup {
    param([string]$Name, [datetime]$Deadline, [string]$What, [scriptblock]$Settled)
    Wait-Until -Deadline $Deadline -What "group $Name $What" -Condition {
        $current = Get-ClusterGroupOrThrow $Name
        if ($current.State.ToString() -eq 'Failed') {
            $failedResources = @($current | Get-ClusterResource | Where-Object { $_.State.ToString() -eq 'Failed' } | ForEach-Object { $_.Name })
            throw (New-OpError 'failed' "group $Name is Failed on $($current.OwnerNode.Name): failed resource(s): $($failedResources -join ', ')")
        }
        & $Settled $current
    }
}

# Online and offline are one motion in two directions: start it without
# blocking, then poll so the op's own timeout governs the wait.
function Set-ClusterGroupState($a, [string]$Target) {
    $name = Get-Arg $a 'name' -Required -As string
    $deadline = Get-Deadline (Get-Arg $a 'timeout_s' 120 -As number)
    Assert-ClusterService
    $group = Get-ClusterGroupOrThrow $name
    if ($group.State.ToString() -ne $Target) {
        if ($Target -eq 'Online') { $null = Start-ClusterGroup -Name $name -Wait 0 }
        else { $null = Stop-ClusterGroup -Name $name -Wait 0 }
        Wait-ClusterGroup -Name $name -Deadline $deadline -What "to go $($Target.ToLower())" -Settled {
            param($g)
            $g.State.ToString() -eq $Target
        }.GetNewClosure()
        $group = Get-ClusterGroupOrThrow $name
    }
    [ordered]@{ name = $name; owner = $group.OwnerNode.Name; state = $group.State.ToString() }
}

# The quorum witness decides who may start a stopped cluster: a disk witness
# keeps a copy of the configuration, a file share or cloud witness only a vote.
function Get-WitnessData {
    $resource = (Get-ClusterQuorum).QuorumResource
    if ($null -eq $resource) { return $null }
    $type = switch ($resource.ResourceType.Name) {
        'Physical Disk' { 'disk' }
        'File Share Witness' { 'file_share' }
        'Cloud Witness' { 'cloud' }
        default { 'other' }  # a witness type this agent does not know still has a vote
    }
    [ordered]@{ type = $type; name = $resource.Name; state = $resource.State.ToString() }
}

$script:EnforcerOps['cluster.nodes'] = {
    param($a)
    Assert-ClusterService
    $nodes = @(Get-ClusterNode | ForEach-Object { [ordered]@{ name = $_.Name; id = [int]$_.Id; state = $_.State.ToString() } })
    [ordered]@{ cluster = (Get-Cluster).Name; local_node = (Get-LocalNodeName); nodes = $nodes; witness = (Get-WitnessData) }
}

$script:EnforcerOps['cluster.groups'] = {
    param($a)
    Assert-ClusterService
    [ordered]@{ groups = @(foreach ($group in @(Get-ClusterGroup)) { ConvertTo-GroupData $group }) }
}

$script:EnforcerOps['cluster.networks'] = {
    param($a)
    Assert-ClusterService
    [ordered]@{ networks = @(foreach ($network in @(Get-ClusterNetwork)) { ConvertTo-NetworkData $network }) }
}

$script:EnforcerOps['cluster.group.remove'] = {
    param($a)
    $name = Get-Arg $a 'name' -Required -As string
    Assert-ClusterService
    $existed = $null -ne (Find-ClusterGroup $name)
    if ($existed) {
        $null = Stop-ClusterGroup -Name $name
        Remove-ClusterGroup -Name $name -RemoveResources -Force
    }
    [ordered]@{ name = $name; existed = $existed }
}

# The DTC keeps its log on the role's disk, which comes from Available
# Storage and is offline, like the rest of the new role, when the op ends.
# Remove-ClusterGroup -RemoveResources deletes every resource of the group,
# so the cleanup of a failed create puts the disk back first, and keeps the
# group rather than lose the disk when that fails.
$script:EnforcerOps['cluster.group.create_dtc'] = {
    param($a)
    Assert-ClusterService
    $name = Get-Arg $a 'name' 'MSDTC' -As string
    $networkName = Get-Arg $a 'network_name' ('MSDTC-' + (Get-Cluster).Name) -As string
    $address = Get-Arg $a 'ip_address' -As string
    $disk = Get-Arg $a 'disk' -Required -As string
    # The Network Name publishes a NetBIOS computer name: a longer one never comes online (KB 909264).
    if ($networkName.Length -gt 15) {
        throw (New-OpError 'invalid_args' "network name '$networkName' is longer than 15 characters (a NetBIOS name)")
    }
    if ($address) {
        $parsed = $null
        if (-not [System.Net.IPAddress]::TryParse($address, [ref]$parsed) -or $parsed.AddressFamily -ne 'InterNetwork') {
            throw (New-OpError 'invalid_args' "argument 'ip_address' must be an IPv4 address, got '$address'")
        }
    }
    if (Find-ClusterGroup $name) { throw (New-OpError 'failed' "cluster group $name already exists") }
    $storageGroup = Get-AvailableStorageGroupName
    $diskResource = Get-ClusterResourceOrThrow $disk
    $disk = $diskResource.Name
    if ($diskResource.ResourceType.Name -ne 'Physical Disk') {
        throw (New-OpError 'failed' "cluster resource $disk is a $($diskResource.ResourceType.Name), not a Physical Disk")
    }
    if ($diskResource.OwnerGroup.Name -ne $storageGroup) {
        throw (New-OpError 'failed' "disk $disk is in group $($diskResource.OwnerGroup.Name), not in $storageGroup")
    }
    $diskWasOnline = $diskResource.State.ToString() -eq 'Online'
    # No parentheses in names: dependency expressions use them for grouping.
    $ipName = "IP Address $networkName"
    $dtcName = "MSDTC-$networkName"
    try {
        $null = Add-ClusterGroup -Name $name
        $owner = (Get-ClusterGroupOrThrow $name).OwnerNode.Name
        $null = Add-ClusterResource -Name $ipName -ResourceType 'IP Address' -Group $name
        $null = Get-ClusterResource -Name $ipName | Set-ClusterParameter -Multiple (Get-DtcIpParameters $address)
        $null = Add-ClusterResource -Name $networkName -ResourceType 'Network Name' -Group $name
        $null = Get-ClusterResource -Name $networkName | Set-ClusterParameter -Multiple @{ Name = $networkName; DnsName = $networkName }
        $null = Set-ClusterResourceDependency -Resource $networkName -Dependency "[$ipName]"
        # The disk moves in before anything depends on it (a move takes the
        # resources joined by dependencies along), and the role, all offline
        # again, goes back to the node it was created on.
        Move-GroupToNode -Group $name -Node (Get-ClusterGroupOrThrow $storageGroup).OwnerNode.Name
        $null = Move-ClusterResource -Name $disk -Group $name
        if ((Get-ClusterResourceOrThrow $disk).State.ToString() -ne 'Offline') { $null = Stop-ClusterResource -Name $disk }
        Move-GroupToNode -Group $name -Node $owner
        $null = Add-ClusterResource -Name $dtcName -ResourceType 'Distributed Transaction Coordinator' -Group $name
        $null = Set-ClusterResourceDependency -Resource $dtcName -Dependency (Join-DependencyExpression @($networkName, $disk))
    } catch {
        $failure = $_
        # Leave no half-built group behind: the op either happened or did not.
        try {
            if (Find-ClusterGroup $name) {
                Restore-DiskToStorage -Disk $disk -Group $name -StorageGroup $storageGroup -Online $diskWasOnline
                Remove-ClusterGroup -Name $name -RemoveResources -Force
            }
        } catch {
            $failure = New-OpError 'failed' "$(Get-ErrorMessage $failure); removing the partial group $name also failed, so it is left in place (check where disk $disk is): $(Get-ErrorMessage $_)"
        }
        throw $failure
    }
    ConvertTo-GroupData (Get-ClusterGroupOrThrow $name)
}

$script:EnforcerOps['cluster.resource.add'] = {
    param($a)
    $name = Get-Arg $a 'name' -Required -As string
    $type = Get-Arg $a 'type' -Required -As string
    $groupName = Get-Arg $a 'group' -Required -As string
    $dependsOn = Get-Arg $a 'depends_on' @() -As strings
    Assert-ClusterService
    if (Find-ClusterResource $name) { throw (New-OpError 'failed' "cluster resource $name already exists") }
    $group = Get-ClusterGroupOrThrow $groupName
    $dependencies = Resolve-DependencyNames -Group $group.Name -Dependent $name -Names $dependsOn
    try {
        $null = Add-ClusterResource -Name $name -ResourceType $type -Group $group.Name
        if ($dependencies.Count -gt 0) {
            $null = Set-ClusterResourceDependency -Resource $name -Dependency (Join-DependencyExpression $dependencies)
        }
    } catch {
        $failure = $_
        # A resource without the dependencies asked for is not what was asked
        # for: the op either happened or did not.
        try {
            if (Find-ClusterResource $name) { $null = Remove-ClusterResource -Name $name -Force }
        } catch {
            $failure = New-OpError 'failed' "$(Get-ErrorMessage $failure); removing the new resource $name also failed: $(Get-ErrorMessage $_)"
        }
        throw $failure
    }
    $resource = Get-ClusterResourceOrThrow $name
    [ordered]@{
        name       = $resource.Name
        type       = $resource.ResourceType.Name
        group      = $resource.OwnerGroup.Name
        state      = $resource.State.ToString()
        depends_on = @(Get-ResourceDependencyNames $resource)
    }
}

# The cluster deletes only an offline resource that is not a core resource
# and that no other resource depends on (MS-CMRP ApiDeleteResource). The last
# two are checked first, so a refused removal has taken nothing offline; the
# rest of the group keeps running.
$script:EnforcerOps['cluster.resource.remove'] = {
    param($a)
    $name = Get-Arg $a 'name' -Required -As string
    Assert-ClusterService
    $resource = Find-ClusterResource $name
    $existed = $null -ne $resource
    if ($existed) {
        if ($resource.IsCoreResource) { throw (New-OpError 'failed' "$($resource.Name) is a core cluster resource: it cannot be removed") }
        $dependents = @(Get-ClusterGroupOrThrow $resource.OwnerGroup.Name | Get-ClusterResource | Where-Object {
                @(Get-ResourceDependencyNames $_) -contains $resource.Name
            } | ForEach-Object { $_.Name })
        if ($dependents.Count -gt 0) {
            throw (New-OpError 'failed' "resource $($resource.Name) cannot be removed: $($dependents -join ', ') depend(s) on it")
        }
        if ($resource.State.ToString() -ne 'Offline') { $null = Stop-ClusterResource -Name $resource.Name }
        $null = Remove-ClusterResource -Name $resource.Name -Force
    }
    [ordered]@{ name = $name; existed = $existed }
}

# Whether any of the resources named depends on $Target, directly or through
# others (all of one group); the cluster refuses a circular dependency.
function Test-ReachesResource {
    param([string]$Target, $From)
    $seen = @{}
    $todo = New-Object System.Collections.Queue
    foreach ($name in @($From)) { $todo.Enqueue($name) }
    while ($todo.Count -gt 0) {
        $current = [string]$todo.Dequeue()
        if ($current -eq $Target) { return $true }
        if ($seen.ContainsKey($current)) { continue }
        $seen[$current] = $true
        $resource = Find-ClusterResource $current
        if ($null -ne $resource) {
            foreach ($next in @(Get-ResourceDependencyNames $resource)) { $todo.Enqueue($next) }
        }
    }
    $false
}

# Set-ClusterResourceDependency replaces the whole expression, so the answer's
# 'before' is what was replaced.
$script:EnforcerOps['cluster.resource.set_dependencies'] = {
    param($a)
    $name = Get-Arg $a 'name' -Required -As string
    $dependsOn = Get-Arg $a 'depends_on' -Required -As strings
    Assert-ClusterService
    $resource = Get-ClusterResourceOrThrow $name
    $dependencies = Resolve-DependencyNames -Group $resource.OwnerGroup.Name -Dependent $resource.Name -Names $dependsOn
    if (Test-ReachesResource -Target $resource.Name -From $dependencies) {
        throw (New-OpError 'invalid_args' "the dependencies of $($resource.Name) would form a cycle")
    }
    $before = @(Get-ResourceDependencyNames $resource)
    $null = Set-ClusterResourceDependency -Resource $resource.Name -Dependency (Join-DependencyExpression $dependencies)
    [ordered]@{ name = $name; before = $before; depends_on = @(Get-ResourceDependencyNames (Get-ClusterResourceOrThrow $name)) }
}

$script:EnforcerOps['cluster.group.move'] = {
    param($a)
    $name = Get-Arg $a 'name' -Required -As string
    $node = Get-Arg $a 'node' -Required -As string
    $deadline = Get-Deadline (Get-Arg $a 'timeout_s' 120 -As number)
    Assert-ClusterService
    $group = Get-ClusterGroupOrThrow $name
    $target = Get-ClusterNodeOrThrow $node
    $beforeOwner = $group.OwnerNode.Name
    if ($beforeOwner -ne $target.Name) {
        $null = Move-ClusterGroup -Name $name -Node $target.Name -Wait 0
        Wait-ClusterGroup -Name $name -Deadline $deadline -What "to settle on $($target.Name)" -Settled {
            param($g)
            $g.OwnerNode.Name -eq $target.Name -and $g.State.ToString() -ne 'Pending'
        }
    }
    $group = Get-ClusterGroupOrThrow $name
    [ordered]@{ name = $name; before_owner = $beforeOwner; owner = $group.OwnerNode.Name; state = $group.State.ToString() }
}

$script:EnforcerOps['cluster.group.online'] = { param($a) Set-ClusterGroupState $a 'Online' }

$script:EnforcerOps['cluster.group.offline'] = { param($a) Set-ClusterGroupState $a 'Offline' }

# Who owns each group now, to tell which groups a pause or a resume moved.
function Get-GroupOwners {
    $owners = @{}
    foreach ($group in @(Get-ClusterGroup)) { $owners[$group.Name] = $group.OwnerNode.Name }
    $owners
}

function ConvertTo-NodeChange {
    param($Node, [string]$Before, [hashtable]$OwnersBefore)
    $moved = @(foreach ($group in @(Get-ClusterGroup)) {
            $from = $OwnersBefore[$group.Name]
            if ($from -and $from -ne $group.OwnerNode.Name) { [ordered]@{ group = $group.Name; from = $from; to = $group.OwnerNode.Name } }
        })
    [ordered]@{ name = $Node.Name; before = $Before; state = (Get-ClusterNodeOrThrow $Node.Name).State.ToString(); moved = $moved }
}

function Assert-NodeRunsClusterService {
    param($Node)
    if ($Node.State.ToString() -eq 'Down') {
        throw (New-OpError 'unavailable' "The cluster service is not running on node '$($Node.Name)'.")
    }
}

# A drain that cannot place a role fails half-way on a real cluster (the node
# paused, some roles moved), so a role with no Up node to go to fails the op
# first, with nothing changed. -Wait makes Suspend-ClusterNode return once the
# drain has ended; DrainStatus says how it ended.
$script:EnforcerOps['cluster.node.suspend'] = {
    param($a)
    $name = Get-Arg $a 'name' -Required -As string
    $mode = Get-Arg $a 'mode' 'pause' -As string
    $deadline = Get-Deadline (Get-Arg $a 'timeout_s' 300 -As number)
    if (@('pause', 'drain') -notcontains $mode) { throw (New-OpError 'invalid_args' "argument 'mode' must be pause or drain") }
    Assert-ClusterService
    $node = Get-ClusterNodeOrThrow $name
    Assert-NodeRunsClusterService $node
    $before = $node.State.ToString()
    $owners = Get-GroupOwners
    $owned = @(Get-ClusterGroup | Where-Object { $_.OwnerNode.Name -eq $node.Name })
    if ($mode -eq 'drain' -and $owned.Count -gt 0) {
        $targets = @(Get-ClusterNode | Where-Object { $_.Name -ne $node.Name -and $_.State.ToString() -eq 'Up' })
        if ($targets.Count -eq 0) {
            throw (New-OpError 'failed' "node $($node.Name) cannot be drained: no node can take the cluster group '$($owned[0].Name)' (the other nodes are Paused or Down)")
        }
        $null = Suspend-ClusterNode -Name $node.Name -Drain -Wait
        Wait-Until -Deadline $deadline -What "node $($node.Name) to drain" -Condition {
            $status = (Get-ClusterNodeOrThrow $node.Name).DrainStatus.ToString()
            if ($status -eq 'Failed') {
                $left = @(Get-ClusterGroup | Where-Object { $_.OwnerNode.Name -eq $node.Name } | ForEach-Object { $_.Name })
                throw (New-OpError 'failed' "the drain of node $($node.Name) failed: it still owns $($left -join ', ')")
            }
            $status -eq 'Completed'
        }.GetNewClosure()
    } elseif ($before -ne 'Paused') {
        $null = Suspend-ClusterNode -Name $node.Name
    }
    ConvertTo-NodeChange -Node $node -Before $before -OwnersBefore $owners
}

# Resume-ClusterNode starts a failback and returns: with Immediate, the op
# waits until no group is Pending, so its answer says where the roles are.
$script:EnforcerOps['cluster.node.resume'] = {
    param($a)
    $name = Get-Arg $a 'name' -Required -As string
    $failback = Get-Arg $a 'failback' 'NoFailback' -As string
    $deadline = Get-Deadline (Get-Arg $a 'timeout_s' 300 -As number)
    if (@('NoFailback', 'Immediate', 'Policy') -notcontains $failback) {
        throw (New-OpError 'invalid_args' "argument 'failback' must be NoFailback, Immediate or Policy")
    }
    Assert-ClusterService
    $node = Get-ClusterNodeOrThrow $name
    Assert-NodeRunsClusterService $node
    $before = $node.State.ToString()
    $owners = Get-GroupOwners
    if ($before -eq 'Paused' -or $failback -eq 'Immediate') {
        $null = Resume-ClusterNode -Name $node.Name -Failback $failback
    }
    if ($failback -eq 'Immediate') {
        Wait-Until -Deadline $deadline -What "the roles of node $($node.Name) to fail back" -Condition {
            @(Get-ClusterGroup | Where-Object { $_.State.ToString() -eq 'Pending' }).Count -eq 0
        }
    }
    ConvertTo-NodeChange -Node $node -Before $before -OwnersBefore $owners
}

$script:EnforcerOps['cluster.service.stop'] = {
    param($a)
    $deadline = Get-Deadline (Get-Arg $a 'timeout_s' 120 -As number)
    $service = Get-ClusterServiceController
    $before = Get-LocalNodeState
    $node = $env:COMPUTERNAME
    if ($before -ne 'Down') { $node = Get-LocalNodeName }
    # The local node is Down exactly when its cluster service is stopped.
    Stop-ServiceAndWait $service $deadline
    [ordered]@{ node = $node; before = $before; state = 'Down' }
}

# A node whose configuration is older than the cluster's newest starts its
# service, which then stops itself and logs FailoverClustering event 1561
# (5398 on newer builds): the wait watches for that, so the op fails at once
# with the event instead of running out its timeout. A node that was Paused
# stays Paused across the restart, which is as joined as it gets.
$script:EnforcerOps['cluster.service.start'] = {
    param($a)
    $deadline = Get-Deadline (Get-Arg $a 'timeout_s' 120 -As number)
    $until = Get-Arg $a 'until' 'up' -As string
    if (@('up', 'running') -notcontains $until) { throw (New-OpError 'invalid_args' "argument 'until' must be up or running") }
    # With 'running', a node Joining (its service waits for the other
    # nodes to make a quorum, Start-ClusterNode's first answer) is reached.
    $accepted = @('Up', 'Paused')
    if ($until -eq 'running') { $accepted += 'Joining' }
    $service = Get-ClusterServiceController
    $before = Get-LocalNodeState
    $started = [DateTime]::UtcNow
    Start-ServiceAndWait $service $deadline
    Import-ClusterModule
    # A running service is not yet a joined node; the cluster API refuses
    # calls until it has joined, which is part of the wait, not a failure.
    $seen = @{ state = $null }
    Wait-Until -Deadline $deadline -What "node $env:COMPUTERNAME to be $($accepted -join ' or ')" -Condition {
        $service.Refresh()
        if ($service.Status.ToString() -eq 'Stopped') {
            $query = @{ ids = @(1561, 5398); source = 'Microsoft-Windows-FailoverClustering'; since = $started.ToString('o'); max = 1 }
            $refusal = @((& $script:EnforcerOps['events.query'] $query)['events'])
            $why = 'it stopped again'
            if ($refusal.Count -gt 0) { $why = "System event $($refusal[0]['id']): $($refusal[0]['message'].Trim())" }
            throw (New-OpError 'failed' "The cluster service on $env:COMPUTERNAME stopped: $why")
        }
        try {
            $seen.state = (Get-ClusterNode -Name $env:COMPUTERNAME).State.ToString()
        } catch {
            $seen.state = $null
        }
        $accepted -contains $seen.state
    }.GetNewClosure()
    [ordered]@{ node = (Get-LocalNodeName); before = $before; state = $seen.state }
}
