# enforcer agent, event log ops: events.query.

$script:EnforcerOps['events.query'] = {
    param($a)
    $filter = @{ LogName = (Get-Arg $a 'log' 'System' -As string) }
    $ids = Get-Arg $a 'ids' @() -As integers
    if ($ids.Count -gt 0) { $filter.Id = [int[]]$ids }
    $source = Get-Arg $a 'source' -As string
    if ($source) { $filter.ProviderName = $source }
    $since = Get-Arg $a 'since' -As string
    if ($since) { $filter.StartTime = ConvertFrom-IsoTime $since 'since' }
    # Evidence of the node's current life only: an error from before its last
    # start says nothing of what runs now.
    if (Get-Arg $a 'since_boot' $false -As boolean) {
        $boot = (Get-CimInstance -ClassName Win32_OperatingSystem).LastBootUpTime
        if (-not $filter.ContainsKey('StartTime') -or $filter.StartTime -lt $boot) { $filter.StartTime = $boot }
    }
    $max = Get-Arg $a 'max' 100 -As integer
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
