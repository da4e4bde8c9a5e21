# enforcer agent: runs ops of catalogue.json on a Windows node.
#
# bootstrap.ps1 dot-sources this text and calls Invoke-EnforcerAgent with the
# request JSON; the answer is one line of ASCII JSON on stdout. It must run on
# Windows PowerShell 5.1, so no PS7-only syntax, and every ConvertTo-Json quirk
# of 5.1 (enums as numbers, unrolled arrays) is dealt with where data is built.

$script:RegistryHives = [ordered]@{
    HKLM = 'HKEY_LOCAL_MACHINE'
    HKCU = 'HKEY_CURRENT_USER'
    HKCR = 'HKEY_CLASSES_ROOT'
    HKU  = 'HKEY_USERS'
    HKCC = 'HKEY_CURRENT_CONFIG'
}

$script:RegistryTypes = @{
    String       = 'REG_SZ'
    ExpandString = 'REG_EXPAND_SZ'
    Binary       = 'REG_BINARY'
    DWord        = 'REG_DWORD'
    MultiString  = 'REG_MULTI_SZ'
    QWord        = 'REG_QWORD'
    None         = 'REG_NONE'
    Unknown      = 'REG_UNKNOWN'
}

# --- errors -----------------------------------------------------------------

# The kind travels in Exception.Data so that it survives being rethrown and
# wrapped by PowerShell on its way up to the op runner.
function New-OpError {
    param([string]$Kind, [string]$Message)
    $exception = New-Object System.Exception $Message
    $exception.Data['EnforcerKind'] = $Kind
    $exception
}

function Get-ErrorKind {
    param([System.Management.Automation.ErrorRecord]$ErrorRecord)
    for ($e = $ErrorRecord.Exception; $null -ne $e; $e = $e.InnerException) {
        if ($e.Data.Contains('EnforcerKind')) { return $e.Data['EnforcerKind'] }
        if ($e -is [System.UnauthorizedAccessException] -or $e -is [System.Security.SecurityException]) { return 'access_denied' }
        if ($e -is [System.ComponentModel.Win32Exception] -and $e.NativeErrorCode -eq 5) { return 'access_denied' }
        # System.ServiceProcess.TimeoutException does not derive from System.TimeoutException.
        if ($e -is [System.TimeoutException] -or $e.GetType().FullName -eq 'System.ServiceProcess.TimeoutException') { return 'timeout' }
        if ($e -is [System.Management.Automation.ItemNotFoundException]) { return 'not_found' }
    }
    switch ($ErrorRecord.CategoryInfo.Category.ToString()) {
        'PermissionDenied' { return 'access_denied' }
        'ObjectNotFound' { return 'not_found' }
    }
    'failed'
}

# .NET calls arrive wrapped in 'Exception calling "X" with "N" argument(s)';
# the wrapped exception says what actually went wrong.
function Get-ErrorMessage {
    param([System.Management.Automation.ErrorRecord]$ErrorRecord)
    $exception = $ErrorRecord.Exception
    while ($exception -is [System.Management.Automation.MethodInvocationException] -and $null -ne $exception.InnerException) {
        $exception = $exception.InnerException
    }
    $message = $exception.Message
    $inner = $exception.InnerException
    if ($null -ne $inner -and -not $exception.Data.Contains('EnforcerKind') -and -not $message.Contains($inner.Message)) {
        $message = "$message ($($inner.Message))"
    }
    $message
}

# --- arguments --------------------------------------------------------------

function Test-IsNumber {
    param($Value)
    $Value -is [int] -or $Value -is [long] -or $Value -is [double] -or $Value -is [decimal]
}

function Test-IsInteger {
    param($Value)
    $Value -is [int] -or $Value -is [long] -or ($Value -is [decimal] -and [math]::Truncate($Value) -eq $Value)
}

# Reads one op argument from a PSCustomObject (the request) or a hashtable (an
# op calling another op). The leading comma stops PowerShell from unrolling a
# list value on the way out, so one-element and empty lists stay lists.
function Get-Arg {
    param($From, [string]$Name, $Default = $null, [switch]$Required, [string]$As = 'any')
    $value = $null
    if ($From -is [System.Collections.IDictionary]) {
        if ($From.Contains($Name)) { $value = $From[$Name] }
    } elseif ($null -ne $From -and $null -ne $From.PSObject.Properties[$Name]) {
        $value = $From.PSObject.Properties[$Name].Value
    }
    if ($null -eq $value) {
        if ($Required) { throw (New-OpError 'invalid_args' "missing argument '$Name'") }
        return , $Default
    }
    $valid = $true
    switch ($As) {
        'string' {
            $valid = $value -is [string] -and $value -ne ''
            $expected = 'a non-empty string'
        }
        'number' {
            $valid = Test-IsNumber $value
            $expected = 'a number'
        }
        'strings' {
            $valid = $value -is [array] -and @($value | Where-Object { $_ -isnot [string] }).Count -eq 0
            $expected = 'a list of strings'
        }
        'integers' {
            $valid = $value -is [array] -and @($value | Where-Object { -not (Test-IsInteger $_) }).Count -eq 0
            $expected = 'a list of integers'
        }
    }
    if (-not $valid) { throw (New-OpError 'invalid_args' "argument '$Name' must be $expected") }
    return , $value
}

function ConvertFrom-IsoTime {
    param([string]$Text, [string]$Name)
    $parsed = [datetime]::MinValue
    $styles = [Globalization.DateTimeStyles]'AdjustToUniversal, AssumeUniversal'
    if (-not [datetime]::TryParse($Text, [Globalization.CultureInfo]::InvariantCulture, $styles, [ref]$parsed)) {
        throw (New-OpError 'invalid_args' "argument '$Name' must be an ISO 8601 time, got '$Text'")
    }
    $parsed
}

# --- output -----------------------------------------------------------------

# Escaping everything outside ASCII makes the console codepage irrelevant.
function ConvertTo-AsciiJson {
    param($InputObject)
    $json = ConvertTo-Json -InputObject $InputObject -Depth 12 -Compress
    $escape = [System.Text.RegularExpressions.MatchEvaluator]{ param($m) '\u{0:x4}' -f [int][char]$m.Value }
    [regex]::Replace($json, '[^\x00-\x7F]', $escape)
}

# --- waiting and processes --------------------------------------------------

function Wait-Until {
    param([scriptblock]$Condition, [datetime]$Deadline, [string]$What)
    while (-not (& $Condition)) {
        if ([DateTime]::UtcNow -ge $Deadline) { throw (New-OpError 'timeout' "timed out waiting for $What") }
        Start-Sleep -Milliseconds 500
    }
}

function Get-Deadline {
    param([double]$Seconds)
    [DateTime]::UtcNow.AddSeconds($Seconds)
}

# Under ErrorActionPreference Stop, PS 5.1 turns a native command's stderr
# into a terminating error (reg.exe import reports success on stderr), so the
# preference is relaxed here and the exit code decides.
function Invoke-Native {
    param([string]$FilePath, [string[]]$ArgumentList)
    $ErrorActionPreference = 'Continue'
    $lines = & $FilePath @ArgumentList 2>&1 | ForEach-Object { "$_" }
    [pscustomobject]@{ ExitCode = $LASTEXITCODE; Output = (@($lines) -join "`n").Trim() }
}

function Assert-NativeSuccess {
    param([string]$What, $Result)
    if ($Result.ExitCode -eq 0) { return }
    $kind = 'failed'
    if ($Result.Output -match 'Access is denied') { $kind = 'access_denied' }
    throw (New-OpError $kind "$What exited with code $($Result.ExitCode): $($Result.Output)")
}

# Start-Process -ArgumentList joins its items with spaces and no quoting, so
# arguments with spaces are quoted here by the CommandLineToArgvW rules.
function Join-CommandLine {
    param([string[]]$Arguments)
    $quoted = foreach ($argument in $Arguments) {
        if ($argument -eq '' -or $argument -match '[\s"]') {
            '"' + (($argument -replace '(\\*)"', '$1$1\"') -replace '(\\+)$', '$1$1') + '"'
        } else {
            $argument
        }
    }
    $quoted -join ' '
}

# Start-Process (shell execute) lets .msu and .msi installers open with their
# handlers; a timeout leaves the installer running rather than killing it
# half-way through.
function Invoke-Process {
    param([string]$FilePath, [string[]]$ArgumentList, [double]$TimeoutSeconds)
    $start = @{ FilePath = $FilePath; PassThru = $true }
    if ($ArgumentList.Count -gt 0) { $start.ArgumentList = Join-CommandLine $ArgumentList }
    $process = Start-Process @start
    # Without a handle taken while the process runs, ExitCode reads as null.
    $null = $process.Handle
    if (-not $process.WaitForExit([int][math]::Min($TimeoutSeconds * 1000, [int]::MaxValue))) {
        throw (New-OpError 'timeout' "$FilePath still running after $TimeoutSeconds s (left running)")
    }
    $process.ExitCode
}

# --- paths and registry -----------------------------------------------------

# .NET APIs resolve relative paths against the process directory, not the
# PowerShell location; this also works for paths that do not exist yet.
function Resolve-FullPath {
    param([string]$Path)
    $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
}

# A cluster disk owned by another node has no drive letter here. Its paths
# are unknown rather than absent, which Test-Path alone cannot tell apart.
function Assert-PathReachable {
    param([string]$Path)
    if ($Path -match '^([A-Za-z]):' -and -not (Test-Path -LiteralPath "$($Matches[1]):\")) {
        throw (New-OpError 'unavailable' "The device is not ready: drive $($Matches[1].ToUpperInvariant()): is not present on this node")
    }
}

function New-ParentFolder {
    param([string]$Path)
    $parent = [System.IO.Path]::GetDirectoryName((Resolve-FullPath $Path))
    if ($parent -and -not (Test-Path -LiteralPath $parent)) { $null = New-Item -ItemType Directory -Path $parent -Force }
}

# 'HKLM\Software\X' -> 'HKEY_LOCAL_MACHINE\Software\X': reg.exe takes it as is
# and the Registry:: provider prefix reaches every hive, drive or not.
function ConvertTo-RegNativePath {
    param([string]$Path)
    $hive, $rest = $Path.Trim().TrimEnd('\') -split '\\', 2
    $hive = $hive.TrimEnd(':').ToUpperInvariant()
    if ($script:RegistryHives.Contains($hive)) {
        $hive = $script:RegistryHives[$hive]
    } elseif (@($script:RegistryHives.Values) -notcontains $hive) {
        throw (New-OpError 'invalid_args' "unknown registry hive in '$Path'")
    }
    if ($rest) { "$hive\$rest" } else { $hive }
}

function ConvertTo-RegShortPath {
    param([string]$NativePath)
    foreach ($short in $script:RegistryHives.Keys) {
        $long = $script:RegistryHives[$short]
        if ($NativePath -eq $long -or $NativePath.StartsWith("$long\", [StringComparison]::OrdinalIgnoreCase)) {
            return $short + $NativePath.Substring($long.Length)
        }
    }
    $NativePath
}

# DWORD and QWORD read back signed; the registry means them unsigned.
# Binary data (and types .NET does not know) is given as a hex string.
function ConvertTo-RegValueData {
    param([Microsoft.Win32.RegistryKey]$Key, [string]$Name)
    $kind = $Key.GetValueKind($Name).ToString()
    $raw = $Key.GetValue($Name, $null, [Microsoft.Win32.RegistryValueOptions]::DoNotExpandEnvironmentNames)
    if ($raw -is [byte[]]) {
        $data = [BitConverter]::ToString($raw).Replace('-', '').ToLowerInvariant()
    } elseif ($kind -eq 'DWord') {
        $data = [BitConverter]::ToUInt32([BitConverter]::GetBytes([int]$raw), 0)
    } elseif ($kind -eq 'QWord') {
        $data = [BitConverter]::ToUInt64([BitConverter]::GetBytes([long]$raw), 0)
    } elseif ($kind -eq 'MultiString') {
        $data = @($raw)
    } else {
        $data = $raw
    }
    [ordered]@{ type = $script:RegistryTypes[$kind]; data = $data }
}

# --- services ---------------------------------------------------------------

function Get-ServiceOrNull {
    param([string]$Name)
    # -Name takes wildcards; only an exact match counts.
    Get-Service -Name $Name -ErrorAction SilentlyContinue | Where-Object { $_.Name -eq $Name } | Select-Object -First 1
}

function Get-ServiceOrThrow {
    param([string]$Name)
    $service = Get-ServiceOrNull $Name
    if ($null -eq $service) { throw (New-OpError 'not_found' "no such service: $Name") }
    $service
}

# The service-specific error of a failed start is only in the System log.
function Get-ServiceFailureEvent {
    param($Service, [datetime]$Since)
    try {
        $query = @{ ids = @(7023, 7024); source = 'Service Control Manager'; since = $Since.ToUniversalTime().ToString('o'); max = 20 }
        $found = (& $script:EnforcerOps['events.query'] $query)['events'] |
            Where-Object { $_['message'].Contains($Service.DisplayName) } |
            Select-Object -First 1
        if ($found) { return " (System event $($found['id']): $($found['message'].Trim()))" }
    } catch {
        # The event only explains the failure; not finding it must not hide the failure itself.
    }
    ''
}

# ServiceController rather than Stop-Service/Start-Service: those block with
# no timeout, and a start that fails is only seen as the service falling back
# to Stopped.
function Stop-ServiceAndWait {
    param($Service, [datetime]$Deadline)
    $Service.Refresh()
    if ($Service.Status -eq 'Stopped') { return }
    if ($Service.Status -eq 'StartPending') {
        # A service cannot take a stop request until it has finished starting.
        Wait-Until -Deadline $Deadline -What "service $($Service.Name) to finish starting" -Condition {
            $Service.Refresh()
            $Service.Status -ne 'StartPending'
        }
    }
    if ($Service.Status -ne 'StopPending' -and $Service.Status -ne 'Stopped') { $Service.Stop() }
    Wait-Until -Deadline $Deadline -What "service $($Service.Name) to stop" -Condition {
        $Service.Refresh()
        $Service.Status -eq 'Stopped'
    }
}

function Start-ServiceAndWait {
    param($Service, [datetime]$Deadline)
    $Service.Refresh()
    if ($Service.Status -eq 'Running') { return }
    # Event times have whole-second resolution; look back a little.
    $since = (Get-Date).AddSeconds(-2)
    if ($Service.Status -eq 'StopPending') {
        Wait-Until -Deadline $Deadline -What "service $($Service.Name) to finish stopping" -Condition {
            $Service.Refresh()
            $Service.Status -eq 'Stopped'
        }
    }
    if ($Service.Status -eq 'Stopped') { $Service.Start() }
    Wait-Until -Deadline $Deadline -What "service $($Service.Name) to start" -Condition {
        $Service.Refresh()
        if ($Service.Status -eq 'Stopped') {
            $detail = Get-ServiceFailureEvent $Service $since
            throw (New-OpError 'failed' "service $($Service.Name) stopped while starting$detail")
        }
        $Service.Status -eq 'Running'
    }
}

# --- cluster ----------------------------------------------------------------

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

function ConvertTo-GroupData {
    param($Group)
    $resources = @($Group | Get-ClusterResource | ForEach-Object {
            [ordered]@{ name = $_.Name; type = $_.ResourceType.Name; state = $_.State.ToString() }
        })
    [ordered]@{ name = $Group.Name; state = $Group.State.ToString(); owner = $Group.OwnerNode.Name; resources = $resources }
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

# --- the op runner ----------------------------------------------------------

function Invoke-EnforcerAgent {
    param([string]$RequestJson)
    $ErrorActionPreference = 'Stop'
    # Progress, warning and verbose records would reach the client's stdout
    # or stderr through the console host.
    $ProgressPreference = 'SilentlyContinue'
    $WarningPreference = 'SilentlyContinue'
    $VerbosePreference = 'SilentlyContinue'

    $request = ConvertFrom-Json -InputObject $RequestJson
    if ($request.v -ne 1) { throw "unsupported request version '$($request.v)'" }
    if ($request.ops -isnot [array]) { throw "request has no 'ops' list" }
    $stopOnError = (Get-Arg $request 'stop_on_error' $false) -eq $true

    $results = New-Object System.Collections.ArrayList
    $failed = $false
    foreach ($op in $request.ops) {
        $id = Get-Arg $op 'id'
        if ($failed -and $stopOnError) {
            $null = $results.Add([ordered]@{ id = $id; ok = $false; error = [ordered]@{ kind = 'failed'; message = 'skipped: an earlier op failed' } })
            continue
        }
        try {
            $name = Get-Arg $op 'op'
            if ($name -isnot [string] -or @($script:EnforcerOps.Keys) -cnotcontains $name) {
                throw (New-OpError 'unknown_op' "unknown op '$name'")
            }
            $data = & $script:EnforcerOps[$name] (Get-Arg $op 'args')
            $null = $results.Add([ordered]@{ id = $id; ok = $true; data = $data })
        } catch {
            $failed = $true
            $null = $results.Add([ordered]@{ id = $id; ok = $false; error = [ordered]@{ kind = (Get-ErrorKind $_); message = (Get-ErrorMessage $_) } })
        }
    }
    [Console]::Out.WriteLine((ConvertTo-AsciiJson ([ordered]@{ v = 1; results = $results.ToArray() })))
    [Console]::Out.Flush()
}

# --- the ops ------------------------------------------------------------------
# Each op takes its args object and returns one ordered dictionary (the op's
# data) or throws New-OpError. Lists are built with @() inside the dictionary
# so they stay lists in the JSON whatever their length.

# Stop and start differ only in the wait they end with.
function Invoke-ServiceChange($a, [string]$Verb) {
    $name = Get-Arg $a 'name' -Required -As string
    $timeout = Get-Arg $a 'timeout_s' 60 -As number
    $service = Get-ServiceOrThrow $name
    $before = $service.Status.ToString()
    if ($Verb -eq 'Start') { Start-ServiceAndWait $service (Get-Deadline $timeout) }
    else { Stop-ServiceAndWait $service (Get-Deadline $timeout) }
    [ordered]@{ name = $name; before = $before; status = $service.Status.ToString() }
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

$script:EnforcerOps = @{
    'facts' = {
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
        $eventQuery = Get-Arg $a 'events'
        if ($null -ne $eventQuery) { $events = (& $ops['events.query'] $eventQuery)['events'] }

        # A node whose cluster service is down still has facts worth planning on.
        $cluster = $null
        $clusterError = $null
        try {
            $nodes = & $ops['cluster.nodes'] @{}
            $groups = & $ops['cluster.groups'] @{}
            $cluster = [ordered]@{ name = $nodes['cluster']; local_node = $nodes['local_node']; nodes = $nodes['nodes']; groups = $groups['groups'] }
        } catch {
            $clusterError = Get-ErrorMessage $_
        }

        $os = Get-CimInstance -ClassName Win32_OperatingSystem
        [ordered]@{
            hostname      = $env:COMPUTERNAME
            time          = [DateTime]::UtcNow.ToString('o')
            os            = [ordered]@{ caption = $os.Caption; version = $os.Version }
            services      = $services
            registry      = $registry
            paths         = $paths
            dtc           = & $ops['dtc.get'] @{}
            sql           = & $ops['sql.get'] @{}
            cluster       = $cluster
            cluster_error = $clusterError
            events        = $events
        }
    }

    'registry.get' = {
        param($a)
        $native = ConvertTo-RegNativePath (Get-Arg $a 'path' -Required -As string)
        $path = ConvertTo-RegShortPath $native
        $key = "Registry::$native"
        if (-not (Test-Path -LiteralPath $key)) {
            return [ordered]@{ path = $path; exists = $false; values = [ordered]@{}; subkeys = @() }
        }
        $item = Get-Item -LiteralPath $key
        $values = [ordered]@{}
        foreach ($valueName in $item.GetValueNames()) { $values[$valueName] = ConvertTo-RegValueData $item $valueName }
        [ordered]@{ path = $path; exists = $true; values = $values; subkeys = @($item.GetSubKeyNames()) }
    }

    'registry.export' = {
        param($a)
        $native = ConvertTo-RegNativePath (Get-Arg $a 'path' -Required -As string)
        $path = ConvertTo-RegShortPath $native
        $dest = Get-Arg $a 'dest' -Required -As string
        Assert-PathReachable $dest
        if (-not (Test-Path -LiteralPath "Registry::$native")) {
            return [ordered]@{ path = $path; dest = $dest; exported = $false; bytes = 0 }
        }
        $file = Resolve-FullPath $dest
        New-ParentFolder $file
        Assert-NativeSuccess 'reg.exe export' (Invoke-Native 'reg.exe' @('export', $native, $file, '/y'))
        [ordered]@{ path = $path; dest = $dest; exported = $true; bytes = (Get-Item -LiteralPath $file -Force).Length }
    }

    'registry.remove' = {
        param($a)
        $native = ConvertTo-RegNativePath (Get-Arg $a 'path' -Required -As string)
        $path = ConvertTo-RegShortPath $native
        $key = "Registry::$native"
        $existed = Test-Path -LiteralPath $key
        if ($existed) { Remove-Item -LiteralPath $key -Recurse -Force }
        [ordered]@{ path = $path; existed = $existed }
    }

    'registry.set' = {
        param($a)
        $native = ConvertTo-RegNativePath (Get-Arg $a 'path' -Required -As string)
        $values = Get-Arg $a 'values' -Required
        $key = "Registry::$native"
        $kinds = @{ REG_SZ = 'String'; REG_EXPAND_SZ = 'ExpandString'; REG_DWORD = 'DWord'; REG_QWORD = 'QWord'; REG_MULTI_SZ = 'MultiString' }
        # Check every value before writing any, so a bad one leaves the key untouched.
        $writes = @(foreach ($property in $values.PSObject.Properties) {
                $type = Get-Arg $property.Value 'type' 'REG_SZ' -As string
                if (-not $kinds.ContainsKey($type)) { throw (New-OpError 'invalid_args' "unsupported registry type '$type' for value '$($property.Name)'") }
                , @($property.Name, $kinds[$type], (Get-Arg $property.Value 'data' -Required))
            })
        $created = -not (Test-Path -LiteralPath $key)
        if ($created) { $null = New-Item -Path $key -Force }
        foreach ($write in $writes) {
            $null = New-ItemProperty -LiteralPath $key -Name $write[0] -PropertyType $write[1] -Value $write[2] -Force
        }
        [ordered]@{ path = (ConvertTo-RegShortPath $native); created = $created }
    }

    'registry.import' = {
        param($a)
        $file = Get-Arg $a 'file' -Required -As string
        Assert-PathReachable $file
        if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { throw (New-OpError 'not_found' "no such file: $file") }
        $fullPath = Resolve-FullPath $file
        # reg.exe does not say what it wrote; the file's sections do. [-KEY]
        # sections delete a key, so they are not keys the import writes.
        $keys = @(foreach ($line in [System.IO.File]::ReadAllLines($fullPath)) {
                $section = [regex]::Match($line, '^\[([^-\]][^\]]*)\]\s*$')
                if ($section.Success) { ConvertTo-RegShortPath $section.Groups[1].Value }
            })
        Assert-NativeSuccess 'reg.exe import' (Invoke-Native 'reg.exe' @('import', $fullPath))
        [ordered]@{ file = $file; imported = $true; keys = $keys }
    }

    'path.get' = {
        param($a)
        $path = Get-Arg $a 'path' -Required -As string
        Assert-PathReachable $path
        if (-not (Test-Path -LiteralPath $path)) {
            return [ordered]@{ path = $path; exists = $false; type = $null; size = 0; items = 0; modified = $null }
        }
        $item = Get-Item -LiteralPath $path -Force
        if ($item.PSIsContainer) {
            # Size and item count cover everything under a folder.
            $type = 'directory'
            $size = [long]0
            $items = 0
            foreach ($child in @(Get-ChildItem -LiteralPath $item.FullName -Recurse -Force)) {
                $items++
                if (-not $child.PSIsContainer) { $size += $child.Length }
            }
        } else {
            $type = 'file'
            $size = $item.Length
            $items = 0
        }
        [ordered]@{ path = $path; exists = $true; type = $type; size = $size; items = $items; modified = $item.LastWriteTimeUtc.ToString('o') }
    }

    'path.archive' = {
        param($a)
        $path = Get-Arg $a 'path' -Required -As string
        $dest = Get-Arg $a 'dest' -Required -As string
        Assert-PathReachable $path
        Assert-PathReachable $dest
        if (-not (Test-Path -LiteralPath $path)) {
            return [ordered]@{ path = $path; dest = $dest; archived = $false; bytes = 0 }
        }
        $source = Get-Item -LiteralPath $path -Force
        $zipPath = Resolve-FullPath $dest
        New-ParentFolder $zipPath
        if (Test-Path -LiteralPath $zipPath) { Remove-Item -LiteralPath $zipPath -Force }
        # ZipFile rather than Compress-Archive: PS 5.1's Compress-Archive leaves
        # out hidden files. The item itself is the archive's root entry, so
        # path.restore into the parent puts it back in place.
        Add-Type -AssemblyName 'System.IO.Compression', 'System.IO.Compression.FileSystem'
        if ($source.PSIsContainer) {
            [System.IO.Compression.ZipFile]::CreateFromDirectory($source.FullName, $zipPath, [System.IO.Compression.CompressionLevel]::Optimal, $true)
        } else {
            $zip = [System.IO.Compression.ZipFile]::Open($zipPath, [System.IO.Compression.ZipArchiveMode]::Create)
            try {
                $null = [System.IO.Compression.ZipFileExtensions]::CreateEntryFromFile($zip, $source.FullName, $source.Name)
            } finally {
                $zip.Dispose()
            }
        }
        [ordered]@{ path = $path; dest = $dest; archived = $true; bytes = (Get-Item -LiteralPath $zipPath -Force).Length }
    }

    'path.remove' = {
        param($a)
        $path = Get-Arg $a 'path' -Required -As string
        Assert-PathReachable $path
        $existed = Test-Path -LiteralPath $path
        if ($existed) { Remove-Item -LiteralPath $path -Recurse -Force }
        [ordered]@{ path = $path; existed = $existed }
    }

    'path.restore' = {
        param($a)
        $archive = Get-Arg $a 'archive' -Required -As string
        $dest = Get-Arg $a 'dest' -Required -As string
        Assert-PathReachable $archive
        Assert-PathReachable $dest
        if (-not (Test-Path -LiteralPath $archive -PathType Leaf)) { throw (New-OpError 'not_found' "no such archive: $archive") }
        if (-not (Test-Path -LiteralPath $dest)) { $null = New-Item -ItemType Directory -Path $dest -Force }
        Expand-Archive -LiteralPath $archive -DestinationPath $dest -Force
        [ordered]@{ archive = $archive; dest = $dest; restored = $true }
    }

    'service.get' = {
        param($a)
        $name = Get-Arg $a 'name' -Required -As string
        $service = Get-ServiceOrNull $name
        if ($null -eq $service) {
            return [ordered]@{ name = $name; exists = $false; status = $null; start_type = $null; display_name = $null }
        }
        # ServiceController.StartType needs .NET 4.6.1, which a 5.1 host may lack.
        $startType = $null
        if ($null -ne $service.StartType) { $startType = $service.StartType.ToString() }
        [ordered]@{ name = $service.Name; exists = $true; status = $service.Status.ToString(); start_type = $startType; display_name = $service.DisplayName }
    }

    'service.stop' = { param($a) Invoke-ServiceChange $a 'Stop' }

    'service.start' = { param($a) Invoke-ServiceChange $a 'Start' }

    'dtc.get' = {
        param($a)
        $exe = Join-Path $env:SystemRoot 'System32\msdtc.exe'
        # msdtc.exe -uninstall leaves the binary behind; only with its service
        # registered is MSDTC installed, and only then does its version count.
        $installed = (Test-Path -LiteralPath $exe -PathType Leaf) -and $null -ne (Get-ServiceOrNull 'MSDTC')
        $version = $null
        if ($installed) {
            # The numeric fields, not the FileVersion string: that string can
            # carry a build tag and is not always updated by patches.
            $info = (Get-Item -LiteralPath $exe).VersionInfo
            $version = '{0}.{1}.{2}.{3}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart
        }
        [ordered]@{ installed = $installed; version = $version; path = $exe }
    }

    'dtc.install' = {
        param($a)
        $installer = Get-Arg $a 'installer' -Required -As string
        $arguments = Get-Arg $a 'arguments' @() -As strings
        $accepted = Get-Arg $a 'accepted_exit_codes' @(0, 3010) -As integers
        $timeout = Get-Arg $a 'timeout_s' 600 -As number
        Assert-PathReachable $installer
        if (-not (Test-Path -LiteralPath $installer -PathType Leaf)) { throw (New-OpError 'not_found' "no such installer: $installer") }
        $before = (& $script:EnforcerOps['dtc.get'] @{})['version']
        $exitCode = Invoke-Process -FilePath (Resolve-FullPath $installer) -ArgumentList $arguments -TimeoutSeconds $timeout
        if ($accepted -notcontains $exitCode) {
            throw (New-OpError 'failed' "installer exited with code $exitCode (accepted: $($accepted -join ', '))")
        }
        $after = (& $script:EnforcerOps['dtc.get'] @{})['version']
        [ordered]@{ exit_code = $exitCode; reboot_required = ($exitCode -eq 3010); version_before = $before; version = $after }
    }

    'dtc.uninstall' = {
        param($a)
        $timeout = Get-Arg $a 'timeout_s' 300 -As number
        $dtc = & $script:EnforcerOps['dtc.get'] @{}
        if (-not (Test-Path -LiteralPath $dtc['path'] -PathType Leaf)) { throw (New-OpError 'not_found' "no msdtc.exe at $($dtc['path'])") }
        $exitCode = Invoke-Process -FilePath $dtc['path'] -ArgumentList @('-uninstall') -TimeoutSeconds $timeout
        if ($exitCode -ne 0) { throw (New-OpError 'failed' "msdtc.exe -uninstall exited with code $exitCode") }
        [ordered]@{ exit_code = $exitCode; version_before = $dtc['version'] }
    }

    'sql.get' = {
        param($a)
        # Instances are listed in the registry; a service without its
        # registry entry (or the reverse) still counts.
        $names = New-Object System.Collections.ArrayList
        $instanceKey = 'Registry::HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Microsoft SQL Server\Instance Names\SQL'
        if (Test-Path -LiteralPath $instanceKey) {
            foreach ($instance in (Get-Item -LiteralPath $instanceKey).GetValueNames()) { $null = $names.Add($instance) }
        }
        foreach ($service in @(Get-Service -Name 'MSSQLSERVER', 'MSSQL$*' -ErrorAction SilentlyContinue)) {
            $instance = $service.Name
            if ($instance -ne 'MSSQLSERVER') { $instance = $instance.Substring('MSSQL$'.Length) }
            if ($names -notcontains $instance) { $null = $names.Add($instance) }
        }
        $instances = @(foreach ($instance in $names) {
                $serviceName = 'MSSQL$' + $instance
                if ($instance -eq 'MSSQLSERVER') { $serviceName = 'MSSQLSERVER' }
                $service = Get-ServiceOrNull $serviceName
                $status = $null
                if ($service) { $status = $service.Status.ToString() }
                [ordered]@{ name = $instance; service = $serviceName; status = $status }
            })
        [ordered]@{ installed = ($instances.Count -gt 0); instances = $instances }
    }

    'events.query' = {
        param($a)
        $filter = @{ LogName = (Get-Arg $a 'log' 'System' -As string) }
        $ids = Get-Arg $a 'ids' @() -As integers
        if ($ids.Count -gt 0) { $filter.Id = [int[]]$ids }
        $source = Get-Arg $a 'source' -As string
        if ($source) { $filter.ProviderName = $source }
        $since = Get-Arg $a 'since' -As string
        if ($since) { $filter.StartTime = ConvertFrom-IsoTime $since 'since' }
        $max = Get-Arg $a 'max' 100 -As number
        if ($max -lt 1) { throw (New-OpError 'invalid_args' "argument 'max' must be at least 1") }
        try {
            $records = @(Get-WinEvent -FilterHashtable $filter -MaxEvents ([int]$max))
        } catch {
            if ($_.FullyQualifiedErrorId -like 'NoMatchingEventsFound*') {
                $records = @()
            } elseif ($_.FullyQualifiedErrorId -like 'NoMatchingLogsFound*' -or $_.FullyQualifiedErrorId -like 'NoMatchingProvidersFound*') {
                throw (New-OpError 'not_found' (Get-ErrorMessage $_))
            } else {
                throw
            }
        }
        $events = @(foreach ($record in $records) {
                $level = 'Information'
                switch ([int]$record.Level) {
                    1 { $level = 'Critical' }
                    2 { $level = 'Error' }
                    3 { $level = 'Warning' }
                    5 { $level = 'Verbose' }
                }
                [ordered]@{
                    time    = $record.TimeCreated.ToUniversalTime().ToString('o')
                    id      = $record.Id
                    source  = $record.ProviderName
                    level   = $level
                    message = [string]$record.Message
                }
            })
        [ordered]@{ events = $events }
    }

    'cluster.nodes' = {
        param($a)
        Assert-ClusterService
        $nodes = @(Get-ClusterNode | ForEach-Object { [ordered]@{ name = $_.Name; id = [int]$_.Id; state = $_.State.ToString() } })
        [ordered]@{ cluster = (Get-Cluster).Name; local_node = (Get-LocalNodeName); nodes = $nodes }
    }

    'cluster.groups' = {
        param($a)
        Assert-ClusterService
        [ordered]@{ groups = @(foreach ($group in @(Get-ClusterGroup)) { ConvertTo-GroupData $group }) }
    }

    'cluster.group.remove' = {
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

    'cluster.group.create_dtc' = {
        param($a)
        Assert-ClusterService
        $name = Get-Arg $a 'name' 'MSDTC' -As string
        $networkName = Get-Arg $a 'network_name' ('MSDTC-' + (Get-Cluster).Name) -As string
        $address = Get-Arg $a 'ip_address' -As string
        if ($address) {
            $parsed = $null
            if (-not [System.Net.IPAddress]::TryParse($address, [ref]$parsed) -or $parsed.AddressFamily -ne 'InterNetwork') {
                throw (New-OpError 'invalid_args' "argument 'ip_address' must be an IPv4 address, got '$address'")
            }
        }
        if (Find-ClusterGroup $name) { throw (New-OpError 'failed' "cluster group $name already exists") }
        # No parentheses in names: dependency expressions use them for grouping.
        $ipName = "IP Address $networkName"
        $dtcName = "MSDTC-$networkName"
        try {
            $null = Add-ClusterGroup -Name $name
            $null = Add-ClusterResource -Name $ipName -ResourceType 'IP Address' -Group $name
            $null = Get-ClusterResource -Name $ipName | Set-ClusterParameter -Multiple (Get-DtcIpParameters $address)
            $null = Add-ClusterResource -Name $networkName -ResourceType 'Network Name' -Group $name
            $null = Get-ClusterResource -Name $networkName | Set-ClusterParameter -Multiple @{ Name = $networkName; DnsName = $networkName }
            $null = Set-ClusterResourceDependency -Resource $networkName -Dependency "[$ipName]"
            $null = Add-ClusterResource -Name $dtcName -ResourceType 'Distributed Transaction Coordinator' -Group $name
            $null = Set-ClusterResourceDependency -Resource $dtcName -Dependency "[$networkName]"
        } catch {
            $failure = $_
            # Leave no half-built group behind: the op either happened or did not.
            try {
                if (Find-ClusterGroup $name) { Remove-ClusterGroup -Name $name -RemoveResources -Force }
            } catch {
                $failure = New-OpError 'failed' "$(Get-ErrorMessage $failure); removing the partial group $name also failed: $(Get-ErrorMessage $_)"
            }
            throw $failure
        }
        ConvertTo-GroupData (Get-ClusterGroupOrThrow $name)
    }

    'cluster.group.move' = {
        param($a)
        $name = Get-Arg $a 'name' -Required -As string
        $node = Get-Arg $a 'node' -Required -As string
        $deadline = Get-Deadline (Get-Arg $a 'timeout_s' 120 -As number)
        Assert-ClusterService
        $group = Get-ClusterGroupOrThrow $name
        $target = Get-ClusterNode | Where-Object { $_.Name -eq $node } | Select-Object -First 1
        if ($null -eq $target) { throw (New-OpError 'not_found' "no such cluster node: $node") }
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

    'cluster.group.online' = { param($a) Set-ClusterGroupState $a 'Online' }

    'cluster.group.offline' = { param($a) Set-ClusterGroupState $a 'Offline' }

    'cluster.service.stop' = {
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

    'cluster.service.start' = {
        param($a)
        $deadline = Get-Deadline (Get-Arg $a 'timeout_s' 120 -As number)
        $service = Get-ClusterServiceController
        $before = Get-LocalNodeState
        Start-ServiceAndWait $service $deadline
        Import-ClusterModule
        # A running service is not yet a joined node; the cluster API refuses
        # calls until it has joined, which is part of the wait, not a failure.
        Wait-Until -Deadline $deadline -What "node $env:COMPUTERNAME to be Up" -Condition {
            try {
                (Get-ClusterNode -Name $env:COMPUTERNAME).State.ToString() -eq 'Up'
            } catch {
                $false
            }
        }
        [ordered]@{ node = (Get-LocalNodeName); before = $before; state = 'Up' }
    }
}
