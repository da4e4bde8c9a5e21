# enforcer agent, service ops: service.get, .stop, .start. The waits are also
# the cluster family's (its service is ClusSvc).

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

$script:EnforcerOps['service.get'] = {
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

$script:EnforcerOps['service.stop'] = { param($a) Invoke-ServiceChange $a 'Stop' }

$script:EnforcerOps['service.start'] = { param($a) Invoke-ServiceChange $a 'Start' }
