# enforcer agent, MSDTC and SQL Server ops: dtc.get, dtc.install,
# dtc.uninstall, sql.get.

$script:EnforcerOps['dtc.get'] = {
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

$script:EnforcerOps['dtc.install'] = {
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

$script:EnforcerOps['dtc.uninstall'] = {
    param($a)
    $timeout = Get-Arg $a 'timeout_s' 300 -As number
    $dtc = & $script:EnforcerOps['dtc.get'] @{}
    if (-not (Test-Path -LiteralPath $dtc['path'] -PathType Leaf)) { throw (New-OpError 'not_found' "no msdtc.exe at $($dtc['path'])") }
    $exitCode = Invoke-Process -FilePath $dtc['path'] -ArgumentList @('-uninstall') -TimeoutSeconds $timeout
    if ($exitCode -ne 0) { throw (New-OpError 'failed' "msdtc.exe -uninstall exited with code $exitCode") }
    [ordered]@{ exit_code = $exitCode; version_before = $dtc['version'] }
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
