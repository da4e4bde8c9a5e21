# enforcer agent, lease ops: lease.acquire, .renew, .release.
#
# A run's lease on the cluster: one copy on each node, in enforcer's own key
# (two values: Holder, the holder as JSON; Expires, ISO 8601 UTC). The node's
# clock judges expiry, so two control hosts whose clocks disagree still agree
# on who holds it. A named mutex makes each op's read and write one step
# against another run's op on the same node.

$script:LeaseKey = 'HKLM:\SOFTWARE\enforcer\Lease'

function Use-LeaseMutex {
    param([scriptblock]$Body)
    $mutex = New-Object System.Threading.Mutex($false, 'Global\enforcer-lease')
    $owned = $false
    try {
        try { $owned = $mutex.WaitOne(10000) } catch [System.Threading.AbandonedMutexException] { $owned = $true }
        if (-not $owned) { throw (New-OpError 'timeout' 'another run held the lease mutex for 10 s') }
        & $Body
    } finally {
        if ($owned) { $mutex.ReleaseMutex() }
        $mutex.Dispose()
    }
}

# The lease as it stands: @{ holder; expires (DateTime UTC) }, or $null.
function Get-Lease {
    if (-not (Test-Path -LiteralPath $script:LeaseKey)) { return $null }
    $item = Get-ItemProperty -LiteralPath $script:LeaseKey
    if (-not $item.Holder -or -not $item.Expires) { return $null }
    @{ holder = (ConvertFrom-Json -InputObject $item.Holder); expires = (ConvertFrom-IsoTime $item.Expires 'Expires') }
}

function Set-Lease {
    param($Holder, [double]$TtlSeconds)
    $expires = [DateTime]::UtcNow.AddSeconds($TtlSeconds)
    if (-not (Test-Path -LiteralPath $script:LeaseKey)) { $null = New-Item -Path $script:LeaseKey -Force }
    $null = New-ItemProperty -LiteralPath $script:LeaseKey -Name Holder -PropertyType String -Force `
        -Value (ConvertTo-Json -InputObject $Holder -Depth 4 -Compress)
    $null = New-ItemProperty -LiteralPath $script:LeaseKey -Name Expires -PropertyType String -Force `
        -Value $expires.ToString('o')
    $expires
}

function New-LeaseAnswer {
    param([bool]$Held, $Lease, $TakenOver = $null)
    [ordered]@{
        held = $Held
        holder = if ($Lease) { $Lease.holder } else { $null }
        expires = if ($Lease) { $Lease.expires.ToString('o') } else { $null }
        taken_over = $TakenOver
    }
}

$script:EnforcerOps['lease.acquire'] = {
    param($a)
    $runId = Get-Arg $a 'run_id' -Required -As string
    $holder = Get-Arg $a 'holder' -Required -As object
    $ttl = Get-Arg $a 'ttl_s' 60 -As number
    Use-LeaseMutex {
        $lease = Get-Lease
        $takenOver = $null
        if ($lease -and $lease.holder.run_id -ne $runId) {
            if ($lease.expires -gt [DateTime]::UtcNow) { return (New-LeaseAnswer $false $lease) }
            $takenOver = $lease.holder
        }
        $expires = Set-Lease $holder $ttl
        New-LeaseAnswer $true @{ holder = $holder; expires = $expires } $takenOver
    }
}

$script:EnforcerOps['lease.renew'] = {
    param($a)
    $runId = Get-Arg $a 'run_id' -Required -As string
    $ttl = Get-Arg $a 'ttl_s' 60 -As number
    $step = Get-Arg $a 'step' -As string
    Use-LeaseMutex {
        $lease = Get-Lease
        if (-not $lease -or $lease.holder.run_id -ne $runId) { return (New-LeaseAnswer $false $lease) }
        $holder = $lease.holder
        if ($null -ne $step) { $holder | Add-Member -NotePropertyName step -NotePropertyValue $step -Force }
        $expires = Set-Lease $holder $ttl
        New-LeaseAnswer $true @{ holder = $holder; expires = $expires }
    }
}

$script:EnforcerOps['lease.release'] = {
    param($a)
    $runId = Get-Arg $a 'run_id' -As string
    $force = Get-Arg $a 'force' $false -As boolean
    Use-LeaseMutex {
        $lease = Get-Lease
        if ($lease -and -not $force -and $lease.holder.run_id -ne $runId) { return (New-LeaseAnswer $false $lease) }
        if (Test-Path -LiteralPath $script:LeaseKey) { Remove-Item -LiteralPath $script:LeaseKey -Recurse -Force }
        $removed = if ($lease -and $lease.holder.run_id -ne $runId) { $lease.holder } else { $null }
        New-LeaseAnswer $false $null $removed
    }
}
