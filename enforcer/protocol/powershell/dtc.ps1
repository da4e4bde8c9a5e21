# enforcer agent, MSDTC and SQL Server ops: dtc.get, dtc.install,
# dtc.uninstall, dtc.reset_log, sql.get.

# MSDTC is part of Windows: msdtc.exe is on every node, with the same file
# version on every WS2016-2025 build (2001.12.10941.16384), so the version
# says nothing of a node's health; what varies is whether the service is
# registered (msdtc -install).
$script:EnforcerOps['dtc.get'] = {
    param($a)
    $exe = Join-Path $env:SystemRoot 'System32\msdtc.exe'
    $version = $null
    if (Test-Path -LiteralPath $exe -PathType Leaf) {
        # The numeric fields, not the FileVersion string, which carries a build tag.
        $info = (Get-Item -LiteralPath $exe).VersionInfo
        $version = '{0}.{1}.{2}.{3}' -f $info.FileMajorPart, $info.FileMinorPart, $info.FileBuildPart, $info.FilePrivatePart
    }
    [ordered]@{ installed = ($null -ne $version -and $null -ne (Get-ServiceOrNull 'MSDTC')); version = $version; path = $exe }
}

# msdtc.exe -install registers the service again and keeps the settings in
# HKLM\Software\Microsoft\MSDTC; a site's own installer, where one exists,
# runs instead. Either way the answer says whether MSDTC is registered after.
$script:EnforcerOps['dtc.install'] = {
    param($a)
    $installer = Get-Arg $a 'installer' -As string
    $arguments = Get-Arg $a 'arguments' @() -As strings
    $accepted = Get-Arg $a 'accepted_exit_codes' @(0, 3010) -As integers
    $timeout = Get-Arg $a 'timeout_s' 600 -As number
    $before = (& $script:EnforcerOps['dtc.get'] @{})['installed']
    if ($installer) {
        Assert-PathReachable $installer
        if (-not (Test-Path -LiteralPath $installer -PathType Leaf)) { throw (New-OpError 'not_found' "no such installer: $installer") }
        $exitCode = Invoke-Process -FilePath (Resolve-FullPath $installer) -ArgumentList $arguments -TimeoutSeconds $timeout
    } else {
        $exe = (& $script:EnforcerOps['dtc.get'] @{})['path']
        $exitCode = Invoke-Process -FilePath $exe -ArgumentList @('-install') -TimeoutSeconds $timeout
    }
    if ($accepted -notcontains $exitCode) {
        throw (New-OpError 'failed' "the install exited with code $exitCode (accepted: $($accepted -join ', '))")
    }
    $after = (& $script:EnforcerOps['dtc.get'] @{})['installed']
    [ordered]@{ exit_code = $exitCode; reboot_required = ($exitCode -eq 3010); registered_before = $before; registered = $after }
}

# msdtc -uninstall has the SCM delete the service, which only marks a service
# still running: it is stopped first, and a service still listed afterwards is
# reported, as only a reboot would finish the removal.
$script:EnforcerOps['dtc.uninstall'] = {
    param($a)
    $timeout = Get-Arg $a 'timeout_s' 300 -As number
    $dtc = & $script:EnforcerOps['dtc.get'] @{}
    if ($null -eq $dtc['version']) { throw (New-OpError 'not_found' "no msdtc.exe at $($dtc['path'])") }
    $service = Get-ServiceOrNull 'MSDTC'
    if ($service -and $service.Status.ToString() -ne 'Stopped') { Stop-ServiceAndWait $service (Get-Deadline $timeout) }
    $exitCode = Invoke-Process -FilePath $dtc['path'] -ArgumentList @('-uninstall') -TimeoutSeconds $timeout
    if ($exitCode -ne 0) { throw (New-OpError 'failed' "msdtc.exe -uninstall exited with code $exitCode") }
    if (Get-CimInstance -ClassName Win32_Service -Filter "Name='MSDTC'") {
        throw (New-OpError 'failed' 'msdtc.exe -uninstall left the MSDTC service marked for deletion: restart Windows to finish it')
    }
    [ordered]@{ exit_code = $exitCode; registered_before = $dtc['installed'] }
}

# A new log loses the outcome of in-doubt transactions, which is why a DTC log
# is reset rather than restored from a copy. Reset-DtcLog restarts the DTC
# instance; its log's folder is read first (Get-DtcLog), archived there when
# asked, so what is kept is the log the instance really used. Without a name,
# the local DTC's log.
$script:EnforcerOps['dtc.reset_log'] = {
    param($a)
    $dtcName = Get-Arg $a 'dtc_name' -As string
    $backupTo = Get-Arg $a 'backup_to' -As string
    $timeout = Get-Arg $a 'timeout_s' 120 -As number
    $target = @{}
    if ($dtcName) { $target['DtcName'] = $dtcName }
    try {
        $log = "$((Get-DtcLog @target).Path)"
    } catch {
        throw (New-OpError 'not_found' "no DTC instance $dtcName on this node: $(Get-ErrorMessage $_)")
    }
    $archive = [ordered]@{ archived = $false; bytes = 0 }
    if ($backupTo) { $archive = & $script:EnforcerOps['path.archive'] @{ path = $log; dest = $backupTo } }
    $job = Start-Job -ScriptBlock { param($t) Reset-DtcLog @t -Confirm:$false } -ArgumentList $target
    if (-not (Wait-Job -Job $job -Timeout ([int][Math]::Ceiling($timeout)))) {
        Stop-Job -Job $job
        throw (New-OpError 'timeout' "Reset-DtcLog did not finish within $timeout s")
    }
    try {
        $null = Receive-Job -Job $job -ErrorAction Stop
    } catch {
        throw (New-OpError 'failed' "Reset-DtcLog failed: $(Get-ErrorMessage $_)")
    } finally {
        Remove-Job -Job $job -Force
    }
    [ordered]@{ dtc_name = $dtcName; log = $log; archived = $archive['archived']; bytes = $archive['bytes'] }
}

$script:EnforcerOps['sql.get'] = {
    param($a)
    # Instances are listed in the registry; a service without its
    # registry entry (or the reverse) still counts.
    $names = New-Object System.Collections.ArrayList
    $instanceKey = 'Registry::HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Microsoft SQL Server\Instance Names\SQL'
    if (Test-Path -LiteralPath $instanceKey) {
        foreach ($instance in (Get-Item -LiteralPath $instanceKey).GetValueNames()) { $null = $names.Add($instance) }
    }
    # MSSQL$MICROSOFT##WID is the Windows Internal Database (WSUS, ADFS, RDS), not SQL Server.
    foreach ($service in @(Get-Service -Name 'MSSQLSERVER', 'MSSQL$*' -Exclude 'MSSQL$MICROSOFT##WID' -ErrorAction SilentlyContinue)) {
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
